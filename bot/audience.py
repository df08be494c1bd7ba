"""Who gets reminders: DataOS persons matched to Slack members by e-mail, plus explicit links.

The Slack directory comes from `users.list` (paginated, Tier 2): walked at discovery, kept current by
events in between, never per request. Deleted members, bots, people from other organisations (Slack
Connect) and guests (unless ALLOW_GUESTS) are skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import User
from bot.identity import email_key
from bot.membership import SlackProfile, Workspace, admitted, profile_from_user
from bot.metrics import SLACK_DIRECTORY_PAGES, SLACK_RATE_LIMIT_WAITS
from bot.store import Link, Member, Members

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Recipient:
    dataos_user_id: str
    slack: SlackProfile
    how: Literal["e-mail", "link"]


class SlackDirectory:
    """Active human members by Slack id: walked with `users.list` at discovery (and at start-up), and kept
    current between walks by the `user_change` and `team_join` events (`apply`).

    `users.list` is a Tier 2 method (about 20 calls a minute): a walk of a large workspace meets 429s.
    Each one is waited out (Retry-After) and the walk goes on from the same cursor, as often as needed.
    The client given here has no retry handler of its own, so those waits are this class's (and its
    injected `sleep`'s) to make. What a walk found is kept in the database (`slack_members`), so a
    replica or a cron `apikey-bot sweep` starts from it instead of walking again.
    """

    def __init__(self, client: AsyncWebClient, members: Members, *, sleep: Sleep = asyncio.sleep,
                 page_size: int = 200, home: Callable[[], Awaitable[Workspace | None]] | None = None,
                 allow_guests: bool = False) -> None:
        self._client = client
        self._stored = members
        self._sleep = sleep
        self._page_size = page_size
        self._home = home
        self._allow_guests = allow_guests
        self._members: dict[str, SlackProfile] = {}
        self._loaded = False
        self._walk_lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded

    async def members(self) -> dict[str, SlackProfile]:
        """The members as last walked and updated by events (from the database in a fresh process);
        walked first if no walk was ever stored."""
        if not self._loaded:
            async with self._walk_lock:
                if not self._loaded:
                    stored = await self._stored.load_members()
                    if stored:
                        # (a guest stored while ALLOW_GUESTS was on is left out once it is off)
                        self._members = {m.slack_user_id: SlackProfile(m.slack_user_id, m.email, m.tz, m.tz_offset,
                                                                       name=m.name, guest=m.guest)
                                         for m in stored if self._allow_guests or not m.guest}
                        self._loaded = True
                    else:
                        await self._walk()
        return self._members

    async def refresh(self) -> None:
        async with self._walk_lock:
            await self._walk()

    async def _workspace(self) -> Workspace | None:
        return await self._home() if self._home is not None else None

    def _admits(self, profile: SlackProfile, home: Workspace | None) -> bool:
        """An active human member of this organisation (or an admitted guest): the only people whose
        e-mails take part in matching, so a guest's or an outsider's never makes an employee's ambiguous."""
        return not profile.deleted and not profile.is_bot and admitted(profile, home, allow_guests=self._allow_guests)

    async def apply(self, profile: SlackProfile) -> None:
        """A member changed or joined (an event): keep the directory current without a walk."""
        gone = not self._admits(profile, await self._workspace())
        if gone:
            self._members.pop(profile.user_id, None)
        elif self._loaded:
            self._members[profile.user_id] = profile
        await self._stored.put_member(None if gone else _member(profile), profile.user_id)

    async def _walk(self) -> None:
        home = await self._workspace()  # once a walk: without it, only Slack's own flags can tell outsiders
        members: dict[str, SlackProfile] = {}
        cursor = ""
        waits = 0
        while True:
            try:
                page = await self._client.users_list(limit=self._page_size, cursor=cursor or None)
            except SlackApiError as exc:
                delay = _retry_after(exc)
                if delay is None:
                    raise
                waits += 1
                SLACK_RATE_LIMIT_WAITS.labels("users.list").inc()
                await self._sleep(delay)
                continue  # the same cursor again: nothing read so far is lost
            SLACK_DIRECTORY_PAGES.inc()
            for raw in page.get("members") or []:
                profile = profile_from_user(raw)
                if self._admits(profile, home):
                    members[profile.user_id] = profile
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        await self._stored.replace_members([_member(p) for p in members.values()])
        self._members = members
        self._loaded = True
        log.info("slack directory walked: %d active members (%d rate-limit waits)", len(members), waits)


def _member(profile: SlackProfile) -> Member:
    return Member(profile.user_id, profile.email, profile.tz, profile.tz_offset, profile.name, profile.guest)


def _retry_after(exc: SlackApiError) -> float | None:
    """Seconds to wait for a 429 answer, None for any other failure."""
    response = exc.response
    if getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", None) or {}
    value = headers.get("retry-after") or headers.get("Retry-After")
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return max(1.0, float(value)) if value is not None else 30.0
    except ValueError:
        return 30.0


def build_audience(
    persons: Iterable[User],
    members: dict[str, SlackProfile],
    links: Iterable[Link],
    *,
    disabled: set[str],
    only: set[str] | None = None,
) -> list[Recipient]:
    """Pure: one Slack recipient per DataOS user. An explicit link wins over an e-mail match."""
    links = list(links)
    linked_slack = {link.slack_user_id for link in links}
    by_email: dict[str, list[SlackProfile]] = {}
    for member in members.values():
        if member.email:
            by_email.setdefault(email_key(member.email), []).append(member)
    emails = {p.id: email_key(p.email) for p in persons if p.is_person and p.email}
    shared: dict[str, int] = {}
    for email in emails.values():
        shared[email] = shared.get(email, 0) + 1
    chosen: dict[str, Recipient] = {}
    for person_id, email in emails.items():
        if shared[email] > 1:
            continue  # the same rule as identity: an ambiguous e-mail maps to nobody
        matches = by_email.get(email, [])
        if len(matches) > 1:  # an admitted guest's e-mail never takes an employee's away
            matches = [m for m in matches if not m.guest] or matches
        if len(matches) == 1 and matches[0].user_id not in linked_slack:
            chosen[person_id] = Recipient(person_id, matches[0], "e-mail")
    for link in links:
        linked = members.get(link.slack_user_id)
        if linked is not None:
            chosen[link.dataos_user_id] = Recipient(link.dataos_user_id, linked, "link")
    return [
        r for r in chosen.values()
        if r.slack.user_id not in disabled and (only is None or r.slack.user_id in only)
    ]
