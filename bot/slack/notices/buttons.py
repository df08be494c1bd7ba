""""That was me" and "Revoke it" on a new-key notice. Each names its exact key (whose, name, expiration);
who may answer is decided at the click: the key's owner as the bot maps them now (or a platform admin),
for an application user's key its team's owners now (or an admin), without a team the admins. The first
answer counts; the message is updated in place for everyone who got it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.domain.keys import key_ref
from bot.identity import Denied
from bot.service import same_second
from bot.slack import tracked
from bot.slack.blocks.common import DAMAGED_BUTTON, text_message
from bot.slack.blocks.notices import NOTICE_MINE_ACTION, NOTICE_REVOKE_ACTION, notice_message, parse_notice_value
from bot.slack.blocks.teams import revoked_line
from bot.slack.common import action_value, user_id
from bot.slack.errors import explain
from bot.slack.owners import act_as
from bot.slack.teams.channel import tell_channel
from bot.store import Audit
from bot.store.notices import TOLD, Notice
from bot.text import shown

log = logging.getLogger(__name__)


async def find(rt: Runtime, owner: str, ref: str, expiration: datetime) -> Notice | None:
    return next((n for n in await rt.notices.find(owner, expiration) if n.state in TOLD
                 and key_ref(n.key_name) == ref and same_second(n.expiration, expiration)), None)


async def may_answer(rt: Runtime, clicker: str, notice: Notice, action: str) -> str | None:
    """None if `clicker` answers for this key now; else the sentence saying who does."""
    owner = notice.dataos_user_id
    if clicker in rt.admins and await rt.resolver.admission(clicker, allow_guests=False) is None:
        return None
    if notice.app_user:
        if notice.audience.startswith("team:"):
            acting = await act_as(rt, clicker, owner, action)
            return acting if isinstance(acting, str) else None
        return (f"`{shown(owner)}` has no team, so only platform admins answer for its keys. Nothing was "
                "changed.")
    identity = await rt.keys.identify(clicker)
    if isinstance(identity, Denied):
        return identity.message
    if identity.dataos_user_id != owner:
        return "Only the key's owner (or a platform admin) answers for it. Nothing was changed."
    return None


async def refresh(rt: Runtime, group_id: str) -> None:
    notices = await rt.notices.group(group_id)
    if not notices:
        return
    message = notice_message(notices, rt.clock())
    for channel, ts in await rt.notices.messages(group_id):
        try:
            await rt.slack.chat_update(channel=channel, ts=ts, **message.kwargs())
        except Exception as exc:
            log.warning("could not update a new-key notice in %s: %s", channel, type(exc).__name__)


async def answer(rt: Runtime, body: dict[str, Any], *, revoke: bool) -> str:
    """What the clicker reads (the message itself is updated for everyone)."""
    parsed = parse_notice_value(action_value(body))
    if parsed is None:
        return DAMAGED_BUTTON
    clicker = user_id(body)
    notice = await find(rt, *parsed)
    if notice is None:
        return "That notice is not on record any more. Nothing was changed."
    refusal = await may_answer(rt, clicker, notice, "notice revoke" if revoke else "notice mine")
    if refusal is not None:
        return f":no_entry: {refusal}"
    if notice.answer is not None:
        return f"This was already answered by <@{notice.answered_by}>. Nothing was changed."
    now = rt.clock()
    if not revoke:
        if not await rt.notices.answer(notice.key, "mine", by=clicker, now=now):
            return "This was already answered. Nothing was changed."
        await rt.keys.trail.record(Audit(at=now, actor_slack_id=clicker, action="notice mine", outcome="ok",
                                         dataos_user_id=notice.dataos_user_id[:255], key_name=notice.key_name,
                                         key_expiration=notice.expiration, detail=f"new-key notice of <@{clicker}>"))
        await refresh(rt, notice.group_id)
        return f"Thanks: `{shown(notice.key_name)}` is yours, and stays."
    try:
        done = await rt.keys.revoke_exact(notice.dataos_user_id, notice.key_name, notice.expiration, actor=clicker,
                                          detail="new-key notice")
    except DataOSError as exc:
        return ":x: " + explain(exc, doing="revoking the key", key_name=notice.key_name)
    await rt.notices.answer(notice.key, "revoked" if done.outcome == "revoked" else "gone", by=clicker, now=now)
    if done.outcome == "revoked" and notice.audience.startswith("team:"):
        team = await rt.teams.team_of(notice.dataos_user_id)
        if team is not None:
            await tell_channel(rt, team, revoked_line(clicker, notice.key_name, notice.dataos_user_id))
    await refresh(rt, notice.group_id)
    if done.outcome == "revoked":
        return f":wastebasket: `{shown(notice.key_name)}` revoked: anything using it is now refused by DataOS."
    return f"`{shown(notice.key_name)}` was already gone from DataOS; nothing was revoked."


def register(app: AsyncApp, rt: Runtime) -> None:
    for action, revoke in ((NOTICE_MINE_ACTION, False), (NOTICE_REVOKE_ACTION, True)):

        def make(revoke: bool = revoke) -> Any:
            async def on_click(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
                await ack()
                text = await answer(rt, body, revoke=revoke)
                if body.get("response_url"):
                    await respond(response_type="ephemeral", replace_original=False, **text_message(text).kwargs())
            return on_click

        app.action(action)(tracked(rt, "action", action)(make()))
