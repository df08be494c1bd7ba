"""Where a team hears about its keys: its channel, unless another organisation can read it.

A team channel shared through Slack Connect (`bot.membership.shared_outside`) is refused when an admin
names it; one that becomes shared later gets no more team posts (lines, reminders, leak reports): each
owner gets them by DM instead, and the admins are told once per channel. What Slack says about a channel
is kept at most 5 minutes (`bot.teams.Teams.channel_info`); when Slack cannot say, the post is tried as
before (it names keys, never holds one).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Literal

from bot.app import Runtime
from bot.identity import failure
from bot.membership import shared_outside
from bot.store.teams import Team
from bot.text import shown

log = logging.getLogger(__name__)
#: Claimed once per channel (across replicas) before the admins are told it became shared.
SHARED_MARK = "team-shared:"
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


async def shared_now(rt: Runtime, team: Team) -> bool:
    """Can people of another organisation read the team's channel (as far as Slack said in 5 minutes)?"""
    info = await rt.teams.channel_info(team.channel_id)
    return info is not None and shared_outside(info, await rt.workspace())


async def tell_admins_shared(rt: Runtime, team: Team) -> None:
    """Once per channel: the admins hear that a team channel became shared, and what to do."""
    try:
        if await rt.marks.claim_mark(SHARED_MARK + team.channel_id[:20], now=rt.clock(), older_than=_NEVER) is None:
            return
    except Exception as exc:
        log.warning("could not record that the admins were told about channel %s: %s", team.channel_id,
                    type(exc).__name__)
        return
    text = (f":warning: <#{team.channel_id}>, the team channel of `{shown(team.app_user_id)}`, is now shared with "
            "another organisation (Slack Connect), so I no longer post about that team's keys there: its owners get "
            f"each line, reminder and leak report by DM instead. Give the team a channel only your organisation is in: "
            f"`/apikey admin team {shown(team.app_user_id, 80)} #channel @owner…`.")
    for admin in sorted(rt.admins):
        await rt.dm(admin, text)


async def admitted_owners(rt: Runtime, team: Team) -> list[str]:
    """The team's owners now who may hear of its keys (no guest, outsider, deactivated account or bot)."""
    return [owner for owner in await rt.teams.owners_of(team)
            if await rt.resolver.admission(owner, allow_guests=False) is None]


#: Where a line for the team went: its channel, its owners by DM (the channel is shared), or nowhere.
Told = Literal["channel", "owners", ""]


async def tell_team(rt: Runtime, team: Team, text: str) -> Told:
    """A line for the team (never a key): in its channel, or to each owner by DM when another organisation
    can read the channel. "" (logged) if nobody got it."""
    if await shared_now(rt, team):
        await tell_admins_shared(rt, team)
        told = [await rt.dm(owner, text) for owner in await admitted_owners(rt, team)]
        return "owners" if any(told) else ""
    try:
        await rt.slack.chat_postMessage(channel=team.channel_id, text=text, unfurl_links=False)
    except Exception as exc:
        log.warning("could not post in the team channel of %s: %s", team.app_user_id, failure(exc))
        return ""
    return "channel"


async def tell_channel(rt: Runtime, team: Team, text: str) -> bool:
    """`tell_team`, for those who only need to know whether the team heard it."""
    return bool(await tell_team(rt, team, text))
