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
from datetime import UTC, datetime
from typing import Literal

from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import User
from bot.directory_walk import Walked, Walker, with_teams
from bot.identity import email_key
from bot.membership import SlackProfile, Workspace, admitted
from bot.store import GrantedWorkspace, Link, Member, Members

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)  # slots: a discovery of an organisation holds 100,000
class Recipient:
    dataos_user_id: str
    slack: SlackProfile
    how: Literal["e-mail", "link"]


class SlackDirectory:
    """Active human members by Slack id: walked with `users.list` at discovery (and at start-up), and kept
    current between walks by the `user_change` and `team_join` events (`apply`).

    On an Enterprise Grid organisation-wide install the walk covers every workspace the org admin granted
    (`auth.teams.list`, then `users.list` per workspace: `bot.directory_walk`), a person in several of
    them is one member, and `team_access_granted` / `team_access_revoked` add or drop a workspace without
    a walk of the others (`grant`, `revoke`): a member leaves only when in no granted workspace any more.
    What a walk found is kept in the database (`slack_members`, `slack_workspaces`), so a replica or a
    cron `apikey-bot sweep` starts from it instead of walking again.
    """

    def __init__(self, client: AsyncWebClient, members: Members, *, sleep: Sleep = asyncio.sleep,
                 page_size: int = 200, home: Callable[[], Awaitable[Workspace | None]] | None = None,
                 allow_guests: bool = False, clock: Callable[[], datetime] | None = None) -> None:
        self._stored = members
        self._walker = Walker(client, sleep=sleep, page_size=page_size)
        self._home = home
        self._allow_guests = allow_guests
        self._clock = clock or (lambda: datetime.now(UTC))
        self._members: dict[str, SlackProfile] = {}
        self._granted: set[str] = set()
        self._loaded = False
        self._walk_lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        return self._loaded

    @property
    def walker(self) -> Walker:
        return self._walker

    async def members(self) -> dict[str, SlackProfile]:
        """The members as last walked and updated by events (from the database in a fresh process);
        walked first if no walk was ever stored."""
        if not self._loaded:
            async with self._walk_lock:
                await self._load_unlocked()
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
        home = await self._workspace()
        if home is not None and home.org:  # in the granted workspaces only (Slack names all of theirs)
            await self.members()
            profile = with_teams(profile, tuple(t for t in profile.teams if t in self._granted))
        gone = not self._admits(profile, home) or (home is not None and home.org and not profile.teams)
        if gone:
            self._members.pop(profile.user_id, None)
        elif self._loaded:
            self._members[profile.user_id] = profile
        await self._stored.put_member(None if gone else _member(profile), profile.user_id)

    async def granted_workspaces(self) -> list[GrantedWorkspace]:
        """Enterprise Grid: the workspaces granted to the bot, as the last walk or event recorded them."""
        return await self._stored.granted_workspaces()

    async def grant(self, team_ids: list[str]) -> int:
        """The org admin granted these workspaces (`team_access_granted`): their members are walked and join
        the directory; the other workspaces are not walked again. Returns how many members were walked."""
        async with self._walk_lock:
            await self._load_unlocked()
            home = await self._workspace()
            walked = await self._walker.organisation(lambda p: self._admits(p, home), only=dict.fromkeys(team_ids))
            changed: list[SlackProfile] = []
            for uid, found in walked.members.items():
                known = self._members.get(uid)
                merged = with_teams(found, (known.teams if known else ()) + found.teams)
                self._members[uid] = merged
                changed.append(merged)
            self._granted |= set(team_ids)
            await self._stored.set_workspaces([GrantedWorkspace(t, None) for t in team_ids], now=self._clock())
            await self._stored.put_members([_member(p) for p in changed], [])
            log.info("workspaces granted (%s): %d members walked (%d rate-limit waits)", ", ".join(team_ids),
                     len(walked.members), walked.waits)
            return len(walked.members)

    async def revoke(self, team_ids: list[str]) -> int:
        """The org admin took these workspaces back (`team_access_revoked`): their members leave the directory
        (and get no more reminders) unless they are in another granted workspace. Returns how many left."""
        async with self._walk_lock:
            await self._load_unlocked()
            revoked = set(team_ids)
            self._granted -= revoked
            changed: list[SlackProfile] = []
            gone: list[str] = []
            for uid, profile in list(self._members.items()):
                if not revoked & set(profile.teams):
                    continue
                left = tuple(t for t in profile.teams if t not in revoked)
                if left:
                    self._members[uid] = with_teams(profile, left)
                    changed.append(self._members[uid])
                else:
                    del self._members[uid]
                    gone.append(uid)
            await self._stored.set_workspaces([], now=self._clock(), revoked=team_ids)
            await self._stored.put_members([_member(p) for p in changed], gone)
            log.info("workspaces revoked (%s): %d members left the directory, %d stay through another workspace",
                     ", ".join(team_ids), len(gone), len(changed))
            return len(gone)

    async def _load_unlocked(self) -> None:
        """From the database (a fresh process), or walked if no walk was ever stored."""
        if not self._loaded:
            stored = await self._stored.load_members()
            if stored:
                self._members = {m.slack_user_id: SlackProfile(m.slack_user_id, m.email, m.tz, m.tz_offset,
                                                               name=m.name, guest=m.guest, teams=m.teams)
                                 for m in stored if self._allow_guests or not m.guest}
                self._granted = {w.team_id for w in await self._stored.granted_workspaces()}
                self._loaded = True
            else:
                await self._walk()

    async def _walk(self) -> None:
        home = await self._workspace()  # once a walk: without it, only Slack's own flags can tell outsiders
        if home is not None and home.org:
            walked = await self._walker.organisation(lambda p: self._admits(p, home))
            await self._stored.set_workspaces([GrantedWorkspace(t, n) for t, n in walked.workspaces.items()],
                                              now=self._clock(), complete=True)
            self._granted = set(walked.workspaces)
        else:
            walked = Walked()
            walked.members = await self._walker.workspace(lambda p: self._admits(p, home), None, walked)
        members = walked.members
        await self._stored.replace_members([_member(p) for p in members.values()])
        self._members = members
        self._loaded = True
        where = f" in {len(walked.workspaces)} workspaces" if home is not None and home.org else ""
        log.info("slack directory walked: %d active members%s (%d rate-limit waits)", len(members), where,
                 walked.waits)


def _member(profile: SlackProfile) -> Member:
    return Member(profile.user_id, profile.email, profile.tz, profile.tz_offset, profile.name, profile.guest,
                  profile.teams)


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
