"""Revoke now, on the message saying a scheduled revocation did not happen (a renewal's, or a rotation's old
key after its grace).

The button names the exact key (whose, name AND expiration); who may press it is decided at the press:
a platform admin, an owner of the application user's team now (the one owner check, `act_as`), or
someone the bot maps to that DataOS user now. The key is re-read before it is revoked
(`KeyService.revoke_exact`), and the message is updated in place with what happened.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.identity import Denied
from bot.slack import tracked
from bot.slack.blocks.common import DAMAGED_BUTTON, slack_date
from bot.slack.blocks.revocations import REVOKE_NOW_ACTION, overdue_done_message
from bot.slack.common import action_value, clicked_message, tell, update_message, user_id
from bot.slack.errors import explain
from bot.slack.key_buttons import parse_exact
from bot.slack.owners import act_as
from bot.text import shown

log = logging.getLogger(__name__)


async def _refusal(rt: Runtime, clicker: str, owner: str) -> str | None:
    """None when `clicker` may revoke `owner`'s key now, else the sentence saying why not."""
    if clicker in rt.admins:
        return None
    if await rt.teams.team_of(owner) is not None:
        acting = await act_as(rt, clicker, owner, "revoke")
        return acting if isinstance(acting, str) else None
    identity = await rt.keys.identify(clicker)
    if isinstance(identity, Denied) or identity.dataos_user_id != owner:
        return "Only the key's owner or a platform admin can revoke it. Nothing was changed."
    return None


async def revoke_now(rt: Runtime, body: dict[str, Any]) -> None:
    clicker = user_id(body)
    channel, ts = clicked_message(body)
    parsed = parse_exact(action_value(body), "u")
    if parsed is None:
        await tell(rt.slack, channel, clicker, DAMAGED_BUTTON)
        return
    key, fields = parsed
    owner = fields["u"]
    refused = await _refusal(rt, clicker, owner)
    if refused is not None:
        await tell(rt.slack, channel, clicker, f":no_entry: {refused}")
        return
    try:
        done = await rt.keys.revoke_exact(owner, key.name, key.expiration, actor=clicker,
                                          detail="scheduled revocation overdue")
    except DataOSError as exc:
        await tell(rt.slack, channel, clicker, ":x: " + explain(exc, doing="revoking the key", key_name=key.name))
        return
    name = shown(done.name)
    if done.outcome in ("revoked", "gone"):
        await rt.revocations.settle(owner, done.name, key.expiration)
    text = {
        "revoked": f":wastebasket: <@{shown(clicker, 32)}> revoked *{name}* {slack_date(rt.clock())}, as was "
                   "scheduled. Anything still using it is now refused by DataOS.",
        "gone": f"*{name}* was already gone from DataOS; nothing was changed.",
        "changed": f"*{name}* now names a different key (the scheduled one is gone); it was left alone.",
    }[done.outcome]
    await update_message(rt.slack, channel, ts, overdue_done_message(done.name, text))


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action(REVOKE_NOW_ACTION)
    @tracked(rt, "action", "overdue_revoke_now")
    async def on_revoke_now(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        await revoke_now(rt, body)
