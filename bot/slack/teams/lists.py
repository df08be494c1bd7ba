"""`/apikey list` for team keys: the application users a person owns (as the one owner check,
`bot.slack.owners`, admits), their keys packed into at most two messages (`bot.slack.blocks.teams.team_lists`),
or one application user's keys for its owners. Each team's DataOS user is checked to be an application
user before its keys are read."""

from __future__ import annotations

import asyncio
import logging

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.slack import blocks
from bot.slack.blocks.common import Message
from bot.slack.blocks.teams import TeamSection, team_lists
from bot.slack.errors import explain
from bot.slack.owners import act_as, team_kind_problem
from bot.store.teams import Team
from bot.text import shown

log = logging.getLogger(__name__)
#: Application users whose keys `/apikey list` looks up at once (the others are named: `/apikey list <app>`).
TEAMS_LOOKED_UP = 12
LIST_CONCURRENCY = 4


async def team_list_messages(rt: Runtime, slack_user: str, *, only: str | None = None,
                             owned: list[Team] | None = None) -> list[Message]:
    """After "Your keys": the keys of the teams in `owned` (None: they could not be looked up) in at most
    `TEAM_LIST_MESSAGES` messages, or with `only` just that application user's (or why not)."""
    if only is not None:
        acting = await act_as(rt, slack_user, only, "team list")
        if isinstance(acting, str):
            return [blocks.text_message(f":no_entry: {acting}")]
        teams = [acting[1]]
    elif owned is None:  # the person's own list is shown already: say what is missing, not "error"
        return [blocks.text_message(
            ":x: I could not look up the application users you own just now, so their keys are not listed "
            "here. Nothing was changed; please try again in a minute.")]
    else:
        teams = sorted(owned, key=lambda t: t.app_user_id)
    if not teams:
        return []
    gate = asyncio.Semaphore(LIST_CONCURRENCY)

    async def section(team: Team) -> TeamSection:
        async with gate:
            problem = None if only is not None else await team_kind_problem(rt, team)  # act_as checked `only`
            if problem is not None:
                return TeamSection(team, None, problem[1])
            try:
                return TeamSection(team, await rt.dataos.list_tokens(team.app_user_id),
                                   rotation=await rt.rotations.target(team.app_user_id) if rt.vault else None)
            except DataOSError as exc:
                return TeamSection(team, None, explain(exc, doing=f"listing the keys of {shown(team.app_user_id)}",
                                                       read=True))

    looked_up = await asyncio.gather(*(section(t) for t in teams[:TEAMS_LOOKED_UP]))
    return team_lists(looked_up, rt.clock(), more=[t.app_user_id for t in teams[TEAMS_LOOKED_UP:]])
