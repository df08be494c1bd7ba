"""Offboarding for teams: a deactivated Slack member stops owning every team; a team left without any
owner (no person, no user group) is told to the admins, with its keys listed and a "Revoke all" that
names exactly those keys (the offboarding notice's own button, re-checked when pressed)."""

from __future__ import annotations

import logging

from slack_sdk.models.blocks import SectionBlock

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.identity import failure
from bot.slack.blocks import Message
from bot.slack.key_buttons import offboarding_notice
from bot.slack.teams.channel import tell_channel
from bot.store import Audit
from bot.store.teams import Team
from bot.text import shown

log = logging.getLogger(__name__)


async def leave_teams(rt: Runtime, who: str) -> list[Team]:
    """`who` was deactivated: they own no team any more. The teams that changed."""
    changed = await rt.teams.repo.remove_owner_everywhere(who)
    for team in changed:
        await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=who, action="team leave", outcome="ok",
                                         dataos_user_id=team.app_user_id, detail=f"offboarding {who}"))
        await tell_channel(rt, team, f":bust_in_silhouette: <@{who}> was deactivated in Slack and no longer owns "
                                     f"{shown(team.app_user_id)}.")
        if not team.owner_users and not team.owner_groups:
            await _tell_admins(rt, who, team)
    return changed


async def _tell_admins(rt: Runtime, who: str, team: Team) -> None:
    app = team.app_user_id
    try:
        tokens = [t for t in await rt.dataos.list_tokens(app) if t.expiration > rt.clock()]
    except DataOSError as exc:
        log.warning("could not list the keys of %s, whose team lost its last owner: %s", app, exc)
        tokens = None
    lead = (f":warning: The team of application user `{shown(app)}` lost its last owner (<@{who}> was deactivated): "
            f"nobody can manage its keys from Slack now. `/apikey admin team {shown(app, 80)} #channel @owner…` "
            "gives it new owners.")
    if tokens is None:
        message = Message(lead, [SectionBlock(text=lead + " DataOS did not list its keys just now; "
                                              "`/apikey admin teams` shows them.").to_dict()])
    elif not tokens:
        message = Message(lead, [SectionBlock(text=lead + " It has no keys.").to_dict()])
    else:
        notice = offboarding_notice(who, app, tokens)
        keys = ", ".join(f"`{shown(t.name, 60)}`" for t in tokens[:30]) + (" …" if len(tokens) > 30 else "")
        message = Message(lead, [SectionBlock(text=f"{lead} Its keys: {keys}.").to_dict(), *notice.blocks[1:]])
    for admin in sorted(rt.admins):
        try:
            await rt.slack.chat_postMessage(channel=admin, **message.kwargs())
        except Exception as exc:
            log.warning("could not tell admin %s that %s lost its last owner: %s", admin, app, failure(exc))
