"""What people hear about a rotation besides its announcement: the announcement updated in place once the
old key is gone, and one failure message (in the team channel, with Retry and Renew by hand; the admins by
DM). A team channel shared with another organisation gets none of them: its owners do, by DM (`audience`).
Slack failing here never undoes a step: it is logged, and the record says what was posted."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.delivery import CHANNEL_UNREACHABLE, fate_of
from bot.rotation.audience import Audience, audience, dm_owners
from bot.rotation.steps import target_of
from bot.slack.blocks.common import slack_date
from bot.slack.blocks.rotation import admin_failure_message, announcement, failure_message, old_key_stuck_message
from bot.slack.common import active_admins
from bot.slack.revocations.notice import admitted, post_once
from bot.store.rotations import Rotation
from bot.text import shown

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)

SUCCESSOR_WORDS = {
    "revoked": "The new key that was made for it never reached the store and was revoked.",
    "kept": "A new key was made and may already be in the store, so it was kept: Retry finishes the job.",
    "none": "Nothing else was changed.",
}


async def update_announcement(rt: Runtime, rot: Rotation, words: str, to: Audience) -> None:
    """The channel's message about this rotation, updated in place; a new message where the rotation is heard
    now if the first post's fate is unknown, it was refused, it went to the owners by DM, or its channel has
    become shared with another organisation (nothing more is posted there)."""
    if rot.new_expiration is None or rot.version is None:
        return
    message = announcement(rot.app_user_id, rot.kind, target=target_of(rot).location, version=rot.version,
                           new_name=rot.new_name, new_expiration=rot.new_expiration, old_name=rot.old_name,
                           revoke_at=rot.revoke_at or rt.clock(), now=rt.clock(), revoked=words)
    try:
        if rot.announce == "sent" and rot.channel and rot.ts and rot.channel != to.shared:
            await rt.slack.chat_update(channel=rot.channel, ts=rot.ts, **message.kwargs())
        elif rot.announce in ("unknown", "refused", "dm", "sent") and to.channel is not None:
            await rt.slack.chat_postMessage(channel=to.channel, unfurl_links=False, **message.kwargs())
        elif rot.announce in ("unknown", "refused", "dm", "sent"):
            await dm_owners(rt, to.owners, message, f"that rotation {rot.id} is done")
    except Exception as exc:
        log.warning("could not update the announcement of rotation %d: %s", rot.id, fate_of(exc)[1])


async def tell_failure(rt: Runtime, rot: Rotation, reason: str, successor: str) -> None:
    """One message to the owners (the team channel, or each owner by DM when the channel is shared with another
    organisation; the audit channel for the bot's own key), and a DM to each admin."""
    target = target_of(rot).location
    to = await audience(rt, rot)
    team = await rt.teams.team_of(rot.app_user_id) if rot.kind != "bot" else None
    owners = rt.teams.describe(team) if team is not None else None
    message = failure_message(rot.app_user_id, rot.kind, target=target, reason=reason, old_name=rot.old_name,
                              old_expiration=rot.old_expiration, owners=owners,
                              successor=SUCCESSOR_WORDS.get(successor, ""))
    channel = to.channel
    if channel is not None:
        try:
            await rt.slack.chat_postMessage(channel=channel, unfurl_links=False, **message.kwargs())
        except Exception as exc:
            log.warning("could not tell %s that rotation %d failed: %s", channel, rot.id, fate_of(exc)[1])
            channel = None
    by_dm = bool(await dm_owners(rt, to.owners, message, f"that rotation {rot.id} failed")) if to.owners else False
    note = admin_failure_message(rot.app_user_id, rot.kind, target, reason, channel, by_dm=by_dm, shared=to.shared)
    for admin in sorted(rt.admins):
        try:
            await rt.slack.chat_postMessage(channel=admin, unfurl_links=False, **note.kwargs())
        except Exception as exc:
            log.warning("could not tell admin %s that rotation %d failed: %s", admin, rot.id, fate_of(exc)[1])


async def tell_old_key_stuck(rt: Runtime, rot: Rotation, reason: str, worker: str, *, first: bool) -> list[str]:
    """The old key's revoke keeps failing after the grace: the owners (the team channel; each owner by DM when
    the channel is shared or refuses the bot; the audit channel for the bot's own key) and the active admins
    hear it, naming the exact key, with Revoke now. Each recipient once: claimed in the reminder ledger before
    the post (step `rot-old:<rotation>:<recipient>`), a refusal for now tried again at the next failure. The
    `first` time, the announcement that promised the old key would stop says it has not. Those told now."""
    to = await audience(rt, rot)
    if first:
        words = (f"could not be revoked yet (last: {shown(reason, 200)}): it still works until "
                 f"{slack_date(rot.old_expiration)}. The bot keeps trying; its owners and the admins were told.")
        await update_announcement(rt, rot, words, to)
    key = (rot.app_user_id, rot.old_name, rot.old_expiration)
    message = old_key_stuck_message(rot.app_user_id, rot.kind, old_name=rot.old_name,
                                    old_expiration=rot.old_expiration, new_name=rot.new_name,
                                    revoke_at=rot.revoke_at or rt.clock(), reason=reason, attempts=rot.attempts)
    told: list[str] = []
    people = list(to.owners)
    if to.channel is not None:
        fate, code = await post_once(rt, key, f"rot-old:{rot.id}:{to.channel}", to.channel, message, worker)
        told += [to.channel] if fate == "sent" else []
        team = await rt.teams.team_of(rot.app_user_id) if rot.kind == "team" else None
        if team is not None and fate == "undeliverable" and code in CHANNEL_UNREACHABLE:  # the owners, by DM
            people = await admitted(rt, await rt.teams.owners_of(team), allow_guests=False)
    for person in dict.fromkeys([*people, *await active_admins(rt.profiles, rt.admins)]):
        fate, _ = await post_once(rt, key, f"rot-old:{rot.id}:{person}", person, message, worker)
        told += [person] if fate == "sent" else []
    return told
