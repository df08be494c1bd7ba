"""What people hear about a rotation besides its announcement: the announcement updated in place once the
old key is gone, and one failure message (in the team channel, with Retry and Renew by hand; the admins by
DM). Slack failing here never undoes a step: it is logged, and the record says what was posted."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.delivery import fate_of
from bot.rotation.steps import target_of
from bot.slack.blocks.rotation import admin_failure_message, announcement, failure_message
from bot.store.rotations import Rotation

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

SUCCESSOR_WORDS = {
    "revoked": "The new key that was made for it never reached the store and was revoked.",
    "kept": "A new key was made and may already be in the store, so it was kept: Retry finishes the job.",
    "none": "Nothing else was changed.",
}


async def update_announcement(rt: Runtime, rot: Rotation, words: str, channel: str | None) -> None:
    """The channel's message about this rotation, updated in place; a new line if the first post's fate is
    unknown (it cannot be updated) and the channel is known."""
    if rot.new_expiration is None or rot.version is None or channel is None:
        return
    message = announcement(rot.app_user_id, rot.kind, target=target_of(rot).location, version=rot.version,
                           new_name=rot.new_name, new_expiration=rot.new_expiration, old_name=rot.old_name,
                           revoke_at=rot.revoke_at or rt.clock(), now=rt.clock(), revoked=words)
    try:
        if rot.announce == "sent" and rot.channel and rot.ts:
            await rt.slack.chat_update(channel=rot.channel, ts=rot.ts, **message.kwargs())
        elif rot.announce in ("unknown", "refused"):
            await rt.slack.chat_postMessage(channel=channel, unfurl_links=False, **message.kwargs())
    except Exception as exc:
        log.warning("could not update the announcement of rotation %d: %s", rot.id, fate_of(exc)[1])


async def tell_failure(rt: Runtime, rot: Rotation, reason: str, successor: str) -> None:
    """One message to the owners (the team channel; the audit channel for the bot's own key), and a DM to each
    admin."""
    target = target_of(rot).location
    channel: str | None
    owners: str | None = None
    if rot.kind == "bot":
        channel = rt.settings.audit_channel
    else:
        team = await rt.teams.team_of(rot.app_user_id)
        channel = team.channel_id if team is not None else None
        owners = rt.teams.describe(team) if team is not None else None
    if channel is not None:
        message = failure_message(rot.app_user_id, rot.kind, target=target, reason=reason, old_name=rot.old_name,
                                  old_expiration=rot.old_expiration, owners=owners,
                                  successor=SUCCESSOR_WORDS.get(successor, ""))
        try:
            await rt.slack.chat_postMessage(channel=channel, unfurl_links=False, **message.kwargs())
        except Exception as exc:
            log.warning("could not tell %s that rotation %d failed: %s", channel, rot.id, fate_of(exc)[1])
            channel = None
    note = admin_failure_message(rot.app_user_id, rot.kind, target, reason, channel)
    for admin in sorted(rt.admins):
        try:
            await rt.slack.chat_postMessage(channel=admin, unfurl_links=False, **note.kwargs())
        except Exception as exc:
            log.warning("could not tell admin %s that rotation %d failed: %s", admin, rot.id, fate_of(exc)[1])
