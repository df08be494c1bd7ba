"""Team keys: who owns an application user's keys, as Slack people and Slack user groups.

Group members are asked of Slack (`usergroups.users.list`) and kept for at most `group_ttl` seconds,
so someone removed from a group loses access within that time. Who may see or act for a team is decided
above this, by the one owner check (`bot.slack.owners`), which also admits the person first. Every check
is made at the time of the action, from the Slack user who acts: nothing in a payload names a team.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.store.group_members import TeamGroupMembers
from bot.store.teams import Team, TeamsRepo

log = logging.getLogger(__name__)

#: The longest a group's members are kept before Slack is asked again (issue #22: at most 5 minutes).
GROUP_TTL_SECONDS = 300.0


class GroupUnknown(Exception):
    """Slack could not say who is in a user group just now."""

    def __init__(self, group_id: str) -> None:
        super().__init__(f"the members of user group {group_id} could not be read from Slack")
        self.group_id = group_id


class Teams:
    def __init__(self, repo: TeamsRepo, slack: AsyncWebClient, clock: Callable[[], datetime], *,
                 monotonic: Callable[[], float] = time.monotonic, group_ttl: float = GROUP_TTL_SECONDS) -> None:
        self.repo = repo
        self.slack = slack
        self.clock = clock
        self.monotonic = monotonic
        self.group_ttl = min(group_ttl, GROUP_TTL_SECONDS)
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}
        self._channels: dict[str, tuple[float, dict[str, Any]]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        #: Who was last seen in each owning group (`bot.slack.teams.group_watch` says who joined or left).
        self.seen = TeamGroupMembers(repo.engine)
        #: Told of each fresh answer about a group's members (set by the Slack side, which tells the team).
        self.on_members: Callable[[str, frozenset[str]], Awaitable[None]] | None = None

    async def team_of(self, app_user_id: str) -> Team | None:
        return await self.repo.get(app_user_id)

    async def all(self) -> list[Team]:
        return await self.repo.all()

    async def is_owner(self, slack_user_id: str, team: Team) -> bool:
        if slack_user_id in team.owner_users:
            return True
        for group in team.owner_groups:
            if slack_user_id in await self.group_members(group):
                return True
        return False

    async def owners_of(self, team: Team) -> list[str]:
        """Every Slack user who owns the team now: its people, then its groups' members, each once."""
        owners = dict.fromkeys(team.owner_users)
        for group in team.owner_groups:
            owners.update(dict.fromkeys(sorted(await self.group_members(group))))
        return list(owners)

    async def group_members(self, group_id: str, *, strict: bool = False) -> frozenset[str]:
        """A user group's members (cached up to `group_ttl`). When Slack cannot say, nobody is taken for a
        member (an owner is refused rather than a stranger let in), and Slack is asked again next time;
        with `strict`, GroupUnknown is raised instead (a key policy must not fall through to a laxer rule
        because Slack did not answer)."""
        cached = self._groups.get(group_id)
        if cached is not None and self.monotonic() - cached[0] < self.group_ttl:
            return cached[1]
        lock = self._locks.setdefault(group_id, asyncio.Lock())
        async with lock:
            cached = self._groups.get(group_id)
            if cached is not None and self.monotonic() - cached[0] < self.group_ttl:
                return cached[1]
            try:
                answer = await self.slack.usergroups_users_list(usergroup=group_id)
            except Exception as exc:
                log.warning("could not read the members of user group %s: %s", group_id, type(exc).__name__)
                self._groups.pop(group_id, None)
                if strict:
                    raise GroupUnknown(group_id) from None
                return frozenset()
            members = frozenset(str(u) for u in (answer.get("users") or []) if isinstance(u, str))
            self._groups[group_id] = (self.monotonic(), members)
        if self.on_members is not None:  # only a real answer is compared with what was seen (never a failure)
            try:
                await self.on_members(group_id, members)
            except Exception as exc:  # saying who joined must not keep anyone from acting
                log.warning("could not compare the members of user group %s with the last seen: %s", group_id,
                            type(exc).__name__)
        return members

    async def channel_info(self, channel_id: str) -> dict[str, Any] | None:
        """`conversations.info` of a team channel (cached up to `group_ttl`); None when Slack cannot say."""
        cached = self._channels.get(channel_id)
        if cached is not None and self.monotonic() - cached[0] < self.group_ttl:
            return cached[1]
        try:
            answer = await self.slack.conversations_info(channel=channel_id)
        except Exception as exc:
            log.warning("could not read the details of channel %s: %s", channel_id, type(exc).__name__)
            self._channels.pop(channel_id, None)
            return None
        info = answer.get("channel")
        if not isinstance(info, dict):
            return None
        self._channels[channel_id] = (self.monotonic(), info)
        return info

    def forget_groups(self) -> None:
        self._groups.clear()
        self._channels.clear()

    def describe(self, team: Team) -> str:
        """The owners for a sentence: `<@U1>, <@U2> and <!subteam^S1>`."""
        return describe_owners(team)


def mention_user(slack_user_id: str) -> str:
    return f"<@{slack_user_id}>"


def mention_group(group_id: str) -> str:
    return f"<!subteam^{group_id}>"


def describe_owners(team: Team) -> str:
    """The owners as Slack shows them in a sentence: `<@U1>, <@U2> and <!subteam^S1>`."""
    parts = [mention_user(u) for u in team.owner_users] + [mention_group(g) for g in team.owner_groups]
    if not parts:
        return "nobody"
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]
