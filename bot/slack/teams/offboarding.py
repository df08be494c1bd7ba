"""Offboarding for teams: a deactivated Slack member stops owning every team; a team left without any
owner (no person, no user group) is told to the admins, with its keys listed and a "Revoke all" that
names exactly those keys (the offboarding notice's own button, re-checked when pressed). Which teams it
left, and where its notices went, are remembered: a reactivated member owns those teams again (or the
admins are told exactly what to re-add)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from slack_sdk.models.blocks import SectionBlock

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.identity import failure
from bot.slack.blocks import Message
from bot.slack.common import active_admins
from bot.slack.key_buttons import offboarding_notice
from bot.slack.teams.channel import tell_channel
from bot.store import Audit
from bot.store.teams import Team
from bot.text import shown

log = logging.getLogger(__name__)


async def leave_teams(rt: Runtime, who: str) -> list[Team]:
    """`who` was deactivated: they own no team any more. The teams that changed."""
    changed = await rt.teams.repo.remove_owner_everywhere(who)
    await rt.offboardings.note(who, teams=[t.app_user_id for t in changed])
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
    for admin in await active_admins(rt.profiles, rt.admins):
        try:
            posted = await rt.slack.chat_postMessage(channel=admin, **message.kwargs())
        except Exception as exc:
            log.warning("could not tell admin %s that %s lost its last owner: %s", admin, app, failure(exc))
            continue
        await rt.offboardings.note(who, notices=[(str(posted.get("channel")), str(posted.get("ts")))])


async def rejoin_teams(rt: Runtime, who: str, teams: Sequence[str]) -> tuple[list[str], list[str]]:
    """`who` was reactivated: they own again the teams their deactivation removed them from. (restored,
    lines for the admins about those that could not be restored, each saying exactly what to do)."""
    restored: list[str] = []
    left: list[str] = []
    denied = await rt.resolver.admission(who, allow_guests=False) if teams else None
    for app in teams:
        if denied is not None and denied.reason == "unavailable":  # fail closed; the admins can redo it at once
            team = await rt.teams.team_of(app)
            again = team if team is None else replace(team, owner_users=(*team.owner_users, who))
            how = f"To give it back, run {_command(again)}" if again is not None else "It has no team any more."
            left.append(f"`{shown(app, 80)}`: not restored, as Slack could not say who they are just now. {how}")
            continue
        if denied is not None:
            left.append(f"`{shown(app, 80)}`: not restored, {_why(denied.reason)}.")
            continue
        team = await rt.teams.repo.add_owner(app, who, now=rt.clock())
        if team is None:
            left.append(f"`{shown(app, 80)}` has no team any more: /apikey admin team {shown(app, 80)} #channel "
                        f"<@{shown(who, 32)}> makes one with them as an owner.")
            continue
        restored.append(app)
        await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=who, action="team rejoin", outcome="ok",
                                         dataos_user_id=app, detail=f"reactivated {who}"))
        await tell_channel(rt, team, f":bust_in_silhouette: <@{shown(who, 32)}> was reactivated in Slack and owns "
                                     f"{shown(app)} again.")
    return restored, left


def _command(team: Team) -> str:
    """The admin command that sets `team` as it is. Not in a code span: Slack shows the channel and owners
    as mentions there, and a copied mention pastes back as one."""
    owners = " ".join([*(f"<@{shown(u, 32)}>" for u in team.owner_users),
                       *(f"<!subteam^{shown(g, 32)}>" for g in team.owner_groups)])
    return f"/apikey admin team {shown(team.app_user_id, 80)} <#{shown(team.channel_id, 32)}> {owners}"


def _why(reason: str) -> str:
    return {"guest": "as they came back as a guest, and guests never own a team",
            "other_org": "as they came back as a member of another organisation",
            "deactivated": "as Slack still shows them deactivated",
            }.get(reason, f"as they may not own a team ({reason})")
