"""Ownership through a user group is visible: when someone joins or leaves a group that owns a team, the
team hears one line (who, through which group).

Slack lets members edit user groups unless the workspace restricts it, so an owning group makes
ownership self-service. Each fresh answer about a group's members (asked of Slack when someone acts, at
most every 5 minutes, and by housekeeping) is compared with what was last seen, which is kept in the
database (`bot.store.group_members`): each change is said once, by the replica that recorded it. The
members an admin names a group with are the starting point, and say nothing.
"""

from __future__ import annotations

import functools
import logging

from bot.app import Runtime
from bot.slack.teams.channel import tell_channel
from bot.store.teams import Team
from bot.teams import mention_group
from bot.text import shown

log = logging.getLogger(__name__)


def joined_line(who: str, team: Team, group: str, *, admitted: bool) -> str:
    if not admitted:
        return (f":busts_in_silhouette: <@{shown(who, 32)}> was added to {mention_group(group)}, which owns "
                f"`{shown(team.app_user_id)}`, but cannot act for it (a guest, someone from another organisation, a "
                "deactivated account or a bot).")
    return (f":busts_in_silhouette: <@{shown(who, 32)}> now owns `{shown(team.app_user_id)}` through "
            f"{mention_group(group)} (added to the user group).")


def left_line(who: str, team: Team, group: str, *, still_owner: bool) -> str:
    tail = " They still own it directly or through another group." if still_owner else ""
    return (f":busts_in_silhouette: <@{shown(who, 32)}> no longer owns `{shown(team.app_user_id)}` through "
            f"{mention_group(group)} (removed from the user group).{tail}")


async def on_members(rt: Runtime, group_id: str, members: frozenset[str]) -> None:
    """Compare a group's members with what was last seen, for each team the group owns."""
    for team in await rt.teams.all():
        if group_id not in team.owner_groups:
            continue
        change = await rt.teams.seen.observe(team.app_user_id, group_id, members, now=rt.clock())
        for who in change.joined:
            admitted = await rt.resolver.admission(who, allow_guests=False) is None
            await tell_channel(rt, team, joined_line(who, team, group_id, admitted=admitted))
        for who in change.left:
            still = await rt.teams.is_owner(who, team)
            await tell_channel(rt, team, left_line(who, team, group_id, still_owner=still))


async def watch_groups(rt: Runtime) -> int:
    """Ask Slack for the members of every owning group (housekeeping), so a change is said even when nobody
    acts for the team; the number of groups asked about."""
    groups = {group for team in await rt.teams.all() for group in team.owner_groups}
    for group in sorted(groups):
        await rt.teams.group_members(group)
    return len(groups)


def register(rt: Runtime) -> None:
    rt.teams.on_members = functools.partial(on_members, rt)
