"""Who hears about a rotation: the team channel; or, when people of another organisation can read that
channel (Slack Connect, `bot.slack.teams.channel.shared_now`), each of the team's admitted owners by DM,
the admins told once per channel that it became shared; the audit channel for the bot's own key.

Asked again before each post (the announcement, its update, a failure), never remembered from an earlier
step: a channel that becomes shared between the announcement and the revoke gets no update either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.delivery import fate_of
from bot.slack.blocks.common import Message
from bot.slack.teams.channel import admitted_owners, shared_now, tell_admins_shared
from bot.store.rotations import Rotation

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Audience:
    #: The channel to post in (None: no channel may hear it now).
    channel: str | None
    #: Instead of the channel, each of these by DM (the team channel is shared with another organisation).
    owners: tuple[str, ...] = ()
    #: The team channel that was passed over because it is shared.
    shared: str | None = None


async def audience(rt: Runtime, rot: Rotation) -> Audience:
    if rot.kind == "bot":
        return Audience(rt.settings.audit_channel)
    team = await rt.teams.team_of(rot.app_user_id)
    if team is None:
        return Audience(None)
    if await shared_now(rt, team):
        await tell_admins_shared(rt, team)
        return Audience(None, tuple(await admitted_owners(rt, team)), shared=team.channel_id)
    return Audience(team.channel_id)


async def dm_owners(rt: Runtime, owners: tuple[str, ...], message: Message, what: str) -> list[str]:
    """`message` to each owner by DM; those Slack took it for (the others are logged)."""
    told: list[str] = []
    for owner in owners:
        try:
            await rt.slack.chat_postMessage(channel=owner, unfurl_links=False, **message.kwargs())
        except Exception as exc:
            log.warning("could not tell owner %s %s: %s", owner, what, fate_of(exc)[1])
            continue
        told.append(owner)
    return told
