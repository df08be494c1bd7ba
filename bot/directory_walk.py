"""Walking Slack's member directory: `users.list` page by page, and on an Enterprise Grid organisation-wide
install `auth.teams.list` first, then `users.list` with `team_id` for each granted workspace.

Both are Tier 2 methods (about 20 calls a minute), and on Grid the limit counts per workspace: the
workspaces are walked side by side (at most WALK_CONCURRENCY at once), each at its own pace. Every 429
is waited out (Retry-After) and the walk goes on from the same cursor, as often as needed. The client
given here has no retry handler of its own, so those waits are this module's (and its injected
`sleep`'s) to make.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.membership import SlackProfile, profile_from_user
from bot.metrics import SLACK_DIRECTORY_PAGES, SLACK_RATE_LIMIT_WAITS

Sleep = Callable[[float], Awaitable[None]]
#: Workspaces walked at once on Grid: each has a rate limit of its own, so side by side is as fast as the
#: largest one; the bound keeps an organisation of hundreds of workspaces from opening hundreds of requests.
WALK_CONCURRENCY = 32


@dataclass
class Walked:
    """What a walk found: admitted members by id (on Grid with the granted workspaces they are in), how many
    429s were waited out, and (on Grid) the granted workspaces by id with their names."""

    members: dict[str, SlackProfile] = field(default_factory=dict)
    waits: int = 0
    workspaces: dict[str, str | None] = field(default_factory=dict)


class Walker:
    def __init__(self, client: AsyncWebClient, *, sleep: Sleep, page_size: int = 200) -> None:
        self._client = client
        self._sleep = sleep
        self._page_size = page_size
        #: workspaces being walked right now (a benchmark on an injected clock waits for them all to sleep)
        self.walking = 0

    async def _call(self, method: str, walked: Walked, **params: Any) -> Any:
        """One call, its 429s waited out."""
        while True:
            try:
                return await self._client.api_call(method, params=params)
            except SlackApiError as exc:
                delay = retry_after(exc)
                if delay is None:
                    raise
                walked.waits += 1
                SLACK_RATE_LIMIT_WAITS.labels(method).inc()
                await self._sleep(delay)  # then the same cursor again: nothing read so far is lost

    async def workspace(self, admits: Callable[[SlackProfile], bool], team_id: str | None,
                        walked: Walked) -> dict[str, SlackProfile]:
        """One workspace's admitted members (`team_id` None: the token's own workspace), put straight into
        `walked.members` as each page arrives (with the workspace among their `teams` on Grid), so an
        organisation's walk never holds a second copy of its members."""
        found = walked.members
        cursor = ""
        self.walking += 1
        try:
            while True:
                params: dict[str, Any] = {"limit": self._page_size}
                if cursor:
                    params["cursor"] = cursor
                if team_id is not None:
                    params["team_id"] = team_id
                page = await self._call("users.list", walked, **params)
                SLACK_DIRECTORY_PAGES.inc()
                for raw in page.get("members") or []:
                    profile = profile_from_user(raw)
                    if not admits(profile):
                        continue
                    if team_id is not None:
                        known = found.get(profile.user_id)
                        profile = with_teams(profile, (known.teams if known else ()) + (team_id,))
                    found[profile.user_id] = profile
                cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
                if not cursor:
                    return found
        finally:
            self.walking -= 1

    async def granted(self, walked: Walked) -> dict[str, str | None]:
        """The workspaces an organisation-wide install was granted (auth.teams.list, every page)."""
        teams: dict[str, str | None] = {}
        cursor = ""
        while True:
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = await self._call("auth.teams.list", walked, **params)
            for team in page.get("teams") or []:
                if isinstance(team, dict) and team.get("id"):
                    teams[str(team["id"])] = str(team.get("name") or "") or None
            cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
            if not cursor:
                return teams

    async def organisation(self, admits: Callable[[SlackProfile], bool],
                           only: dict[str, str | None] | None = None) -> Walked:
        """Every granted workspace (or only those in `only`), walked side by side; a person in several
        is one member, with every walked workspace they are in."""
        walked = Walked()
        walked.workspaces = await self.granted(walked) if only is None else dict(only)
        gate = asyncio.Semaphore(WALK_CONCURRENCY)

        async def one(team: str) -> dict[str, SlackProfile]:
            async with gate:
                return await self.workspace(admits, team, walked)

        await asyncio.gather(*(one(t) for t in sorted(walked.workspaces)))
        return walked


#: Every distinct set of workspaces, once: an organisation's members share a few dozen.
_TEAM_SETS: dict[tuple[str, ...], tuple[str, ...]] = {}


def with_teams(profile: SlackProfile, teams: tuple[str, ...]) -> SlackProfile:
    key = tuple(sorted(set(teams)))
    if len(_TEAM_SETS) < 10_000:
        key = _TEAM_SETS.setdefault(key, tuple(sys.intern(t) for t in key))
    return replace(profile, teams=key)


def retry_after(exc: SlackApiError) -> float | None:
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
