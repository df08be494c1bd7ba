"""Rotate now (the team list and the team reminder), Retry and Renew by hand (a failed rotation's message).

Each button names the exact key (application user, name AND expiration). The clicker is checked at the
press (`act_as`: a team's owners; the bot's own key: platform admins), and the key is checked again
against DataOS by the engine before anything starts: a key renewed or rotated meanwhile starts nothing.
Renew by hand opens its form first (a trigger lives 3 seconds) and checks the clicker in it.

The clicker is answered through the click's response_url (ephemeral, beside the message): Rotate now sits
in `/apikey list <app-user>`, which may have been run in a DM between people or a channel the bot is not
in, where Slack refuses the bot's chat.postEphemeral.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.slack import blocks, tracked
from bot.slack.blocks.rotation import (
    RENEW_BY_HAND_ACTION,
    RETRY_ACTION,
    ROTATE_NOW_ACTION,
    ROTATION_ACTIONS,
    RotationRef,
    failure_done_message,
    parse_rotation_value,
)
from bot.slack.blocks.team_reminders import TeamKeyRef
from bot.slack.common import clicked_message, tell, update_message, user_id
from bot.slack.errors import explain
from bot.slack.owners import act_as
from bot.slack.teams.channel import shared_now
from bot.slack.teams.reminder_buttons import on_renew
from bot.store import Audit
from bot.text import shown

ACTION_NAMES = {ROTATE_NOW_ACTION: "rotate now", RETRY_ACTION: "rotate retry", RENEW_BY_HAND_ACTION: "renew"}


def started_words(ref: RotationRef, channel: str | None) -> str:
    where = f" <#{channel}> hears" if channel else " You will hear"
    return (f":arrows_counterclockwise: Rotating *{shown(ref.name)}* of `{shown(ref.app_user_id)}` now.{where} when "
            "the new version is in the store; the old key stays valid until the grace has passed.")


RESULT_WORDS = {
    "running": "A rotation of `{app}` is already under way. Nothing else was started.",
    "changed": ("*{name}* is no longer the key of `{app}` that rotates (it was renewed or rotated meanwhile). "
                "Nothing was started; `/apikey list {app}` shows its keys."),
    "no-rotation": "`{app}` does not rotate into a store (an admin turns it on with `/apikey admin team {app} rotate …`"
                   "). Nothing was changed.",
    "no-key": "`{app}` has no live key to rotate. Nothing was changed.",
    "no-store": "This bot has no secret store configured (VAULT_ADDR). Nothing was changed.",
    "not-application": ("`{app}` is not an application user in DataOS now, so nothing is rotated for it; the "
                        "platform admins have been told. Nothing was changed."),
}


async def _may_act(rt: Runtime, clicker: str, ref: RotationRef, action: str) -> str | None:
    """None if `clicker` may act on this key now, else the sentence saying why not (audited)."""
    target = await rt.rotations.target(ref.app_user_id)
    if target is not None and target.kind == "bot":
        if clicker in rt.admins:
            return None
        await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=clicker, action=action,
                                         outcome="refused:not-admin", dataos_user_id=ref.app_user_id[:255],
                                         detail="the bot's own key"))
        return "The bot's own key is rotated by platform admins only. Nothing was changed."
    acting = await act_as(rt, clicker, ref.app_user_id, action)
    return acting if isinstance(acting, str) else None


async def _answer(body: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, text: str) -> None:
    """An ephemeral sentence for the clicker beside the clicked message, through the click's response_url
    (Slack delivers it wherever the message is); chat.postEphemeral only if Slack sent none."""
    if body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, **blocks.text_message(text).kwargs())
        return
    channel, _ = clicked_message(body)
    await tell(client, channel, user_id(body), text)


async def on_rotation_button(rt: Runtime, body: dict[str, Any], client: AsyncWebClient,
                             respond: AsyncRespond) -> None:
    action = (body.get("actions") or [{}])[0]
    action_id = str(action.get("action_id") or "")
    channel, ts = clicked_message(body)
    clicker = user_id(body)
    ref = parse_rotation_value(str(action.get("value") or ""))
    if ref is None:
        await _answer(body, respond, client, f"{blocks.DAMAGED_BUTTON} Nothing was changed.")
        return
    if action_id == RENEW_BY_HAND_ACTION:  # a modal: opened before the owner check, which it then shows
        await on_renew(rt, body, client, TeamKeyRef(ref.app_user_id, ref.name, ref.expiration, None), clicker)
        return
    refusal = await _may_act(rt, clicker, ref, ACTION_NAMES[action_id])
    if refusal is not None:
        await _answer(body, respond, client, f":no_entry: {refusal}")
        return
    if rt.rotate_now is None:
        await _answer(body, respond, client, RESULT_WORDS["no-store"])
        return
    trigger = f"{'retry' if action_id == RETRY_ACTION else 'now'} by {clicker}"
    try:
        result = await rt.rotate_now(ref.app_user_id, ref.name, ref.expiration, trigger)
    except DataOSError as exc:
        await _answer(body, respond, client, ":x: " + explain(
            exc, doing=f"checking the keys of {ref.app_user_id}", read=True))
        return
    if result != "started":
        words = RESULT_WORDS.get(result, "The rotation could not start. Nothing was changed.")
        await _answer(body, respond, client, ":information_source: " + words.format(
            app=shown(ref.app_user_id), name=shown(ref.name)))
        return
    team = await rt.teams.team_of(ref.app_user_id)
    if team is None:
        where = rt.settings.audit_channel
    else:  # a channel another organisation reads hears nothing: the owners do, by DM
        where = None if await shared_now(rt, team) else team.channel_id
    await _answer(body, respond, client, started_words(ref, where))
    if action_id == RETRY_ACTION:
        target = await rt.rotations.target(ref.app_user_id)
        await update_message(client, channel, ts, failure_done_message(
            ref.app_user_id, target.kind if target else "team", _location(target.target if target else ""),
            f":arrows_counterclockwise: retried by <@{shown(clicker)}>."))


def _location(target: str) -> str:
    return target.removeprefix("vault:").split("#", 1)[0]


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action(re.compile("^(" + "|".join(map(re.escape, ROTATION_ACTIONS)) + ")$"))
    @tracked(rt, "action", lambda body: str((body.get("actions") or [{}])[0].get("action_id") or "rotation"))
    async def on_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await on_rotation_button(rt, body, client, respond)
