"""Who gets reminders: DataOS persons matched to Slack members by e-mail, plus explicit links.

The Slack directory comes from `users.list` (paginated, Tier 2): fetched by the sweep, cached, never
per request. Deleted members and bots are skipped.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import User
from bot.identity import SlackProfile, email_key, profile_from_user
from bot.store import Link

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    dataos_user_id: str
    slack: SlackProfile
    how: Literal["e-mail", "link"]


class SlackDirectory:
    def __init__(self, client: AsyncWebClient, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._members: dict[str, SlackProfile] = {}
        self._loaded_at: float | None = None

    async def members(self) -> dict[str, SlackProfile]:
        """Active human members by Slack id; refreshed when older than the TTL."""
        if self._loaded_at is None or self._clock() - self._loaded_at >= self._ttl:
            await self.refresh()
        return self._members

    async def refresh(self) -> None:
        members: dict[str, SlackProfile] = {}
        cursor = ""
        while True:
            page = await self._client.users_list(limit=200, cursor=cursor or None)
            for raw in page.get("members") or []:
                profile = profile_from_user(raw)
                if not profile.deleted and not profile.is_bot:
                    members[profile.user_id] = profile
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                break
        self._members = members
        self._loaded_at = self._clock()
        log.info("slack directory loaded: %d active members", len(members))


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
