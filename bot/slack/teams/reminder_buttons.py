"""The buttons on a team reminder in a team channel (Renew, Revoke, Remind me later, Mute) and the team
renew form's submission.

Anyone in the channel can read the reminder; only the team's owners may press. Ownership is checked at
the press and again at the form's submission (a person removed from the team or its user group meanwhile
is refused), from the Slack user who acts and the application user the button names, never from
anything else in the payload. Others get an ephemeral sentence naming the owners (Renew: in its form,
which opens first in a loading state, as a trigger lives 3 seconds); nothing changes. A renewed key goes
to the owner who pressed, privately (ephemeral in their DM, the form as fallback); the channel message
is updated in place with who renewed and when the old key stops working.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.approvals import Renewal
from bot.dataos import DataOSConflict, DataOSError
from bot.domain.durations import humanize_hours
from bot.domain.names import suggest_name
from bot.service import Duplicate, StoreUnavailable
from bot.slack import blocks, tracked
from bot.slack.approvals.gate import govern, person_form
from bot.slack.blocks.team_reminders import (
    TEAM_MUTE_ACTION,
    TEAM_RENEW_ACTION,
    TEAM_RENEW_VIEW,
    TEAM_REVOKE_ACTION,
    TEAM_SNOOZE_ACTION,
    TeamKeyRef,
    parse_team_value,
    team_reminder_done_message,
)
from bot.slack.blocks.teams import team_created_modal
from bot.slack.common import (
    clicked_message,
    metadata,
    open_view,
    state_block_id,
    state_value,
    tell,
    update_message,
    update_view,
    user_id,
)
from bot.slack.errors import explain, explain_slack
from bot.slack.forms import read_create_form
from bot.slack.key_buttons import replaced_text
from bot.slack.owners import act_as
from bot.slack.teams.delivery import deliver_team_secret
from bot.store import Audit
from bot.store.teams import Team
from bot.text import shown

log = logging.getLogger(__name__)
TITLE = "Renew a team key"
#: How a refusal is audited, by button.
ACTION_NAMES = {TEAM_RENEW_ACTION: "renew", TEAM_REVOKE_ACTION: "revoke", TEAM_SNOOZE_ACTION: "snooze",
                TEAM_MUTE_ACTION: "mute"}


async def _owner_or_say(rt: Runtime, client: AsyncWebClient, channel: str, clicker: str, app_user_id: str,
                        action: str) -> Team | None:
    """The team, if `clicker` may act for it now (`bot.slack.owners.act_as`: admitted, and an owner; refusals are
    audited); otherwise an ephemeral sentence naming the owners, and None."""
    acting = await act_as(rt, clicker, app_user_id, action)
    if isinstance(acting, str):
        await tell(client, channel, clicker, f":no_entry: {acting}")
        return None
    return acting[1]


async def on_revoke(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: TeamKeyRef, clicker: str) -> None:
    channel, ts = clicked_message(body)
    try:
        done = await rt.keys.revoke_exact(ref.app_user_id, ref.name, ref.expiration, actor=clicker,
                                          detail="from a team reminder")
    except DataOSError as exc:
        await tell(client, channel, clicker, ":x: " + explain(exc, doing="revoking the team's key", key_name=ref.name))
        return
    outcome = {
        "revoked": f":wastebasket: revoked by <@{shown(clicker)}>. Anything still using it is now refused by DataOS.",
        "gone": "already gone from DataOS; nothing was changed.",
        "changed": f":warning: {replaced_text(done.name)}",
    }[done.outcome]
    await update_message(client, channel, ts, team_reminder_done_message(ref.app_user_id, done.name,
                                                                         ref.expiration, outcome))


async def on_snooze(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: TeamKeyRef, clicker: str) -> None:
    now = rt.clock()
    until = min(now + timedelta(hours=rt.snooze_hours), ref.expiration - timedelta(minutes=1))
    channel, ts = clicked_message(body)
    if until <= now:
        await tell(client, channel, clicker, "It expires before a snooze would end, so there is nothing to snooze.")
        return
    await rt.sightings.update_sighting((ref.app_user_id, ref.name, ref.expiration), now=now, snoozed_until=until)
    await update_message(client, channel, ts, team_reminder_done_message(
        ref.app_user_id, ref.name, ref.expiration,
        f":zzz: snoozed by <@{shown(clicker)}>; I will remind this channel again {blocks.slack_date(until)}."))


async def on_mute(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: TeamKeyRef, clicker: str) -> None:
    await rt.sightings.update_sighting((ref.app_user_id, ref.name, ref.expiration), now=rt.clock(), muted=True)
    channel, ts = clicked_message(body)
    await update_message(client, channel, ts, team_reminder_done_message(
        ref.app_user_id, ref.name, ref.expiration,
        f":no_bell: muted by <@{shown(clicker)}>; no more reminders for this key."))


async def on_renew(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: TeamKeyRef, clicker: str) -> None:
    """The renew form, opened at once in a loading state (a trigger lives 3 seconds, and who owns the team
    is asked of Slack), then the owner check, then the form prefilled from the old key; the submission
    checks ownership again."""
    channel, ts = clicked_message(body)
    try:
        view_id = await open_view(client, str(body.get("trigger_id") or ""),
                                  blocks.working_modal(TITLE, "Checking that you may renew this key…"))
    except SlackApiError as exc:
        await tell(client, channel, clicker, ":x: " + explain_slack(exc, doing="opening the renew form"))
        return
    acting = await act_as(rt, clicker, ref.app_user_id, "renew")
    if isinstance(acting, str):
        await update_view(client, view_id, blocks.info_modal(TITLE, f":no_entry: {acting}"))
        return
    now = rt.clock()
    policy = await person_form(rt, clicker, "team")  # the key policy's validities for this owner
    view = blocks.renew_modal(
        policy, old_name=ref.name, old_expiration=ref.expiration, now=now,
        suggested_name=suggest_name(ref.name, now), lifetime_hours=ref.lifetime_hours,
        grace_hours=rt.renew_grace_hours,
        meta={"app": ref.app_user_id, "old": ref.name, "exp": str(int(ref.expiration.timestamp())), "ch": channel,
              "ts": ts},
    )
    view["callback_id"] = TEAM_RENEW_VIEW
    view["title"] = {"type": "plain_text", "text": TITLE}
    await update_view(client, view_id, view)


async def submit_team_renew(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                            client: AsyncWebClient) -> None:
    name, hours, errors = read_create_form(rt, view)
    meta = metadata(view)
    app, old_name = meta.get("app", ""), meta.get("old", "")
    old_expiration = _stamp(meta.get("exp", ""))
    choice = str((state_value(view, blocks.OLD_BLOCK, blocks.OLD_INPUT).get("selected_option") or {}).get("value", ""))
    if choice not in ("now", "keep") and not re.fullmatch(r"in:\d{1,5}", choice):
        errors[blocks.OLD_BLOCK] = "Choose what happens to the old key."
    if name is not None and name == old_name:
        errors[blocks.NAME_BLOCK] = "The new key needs a name of its own; the old one still exists."
    if errors or hours is None or not old_name or not app or old_expiration is None:
        errors = {state_block_id(view, block): text for block, text in errors.items()}
        await ack(response_action="errors", errors=errors or {blocks.NAME_BLOCK: "This form is incomplete."})
        return
    await ack(response_action="update", view=blocks.working_modal(TITLE, "Creating the new key…"))
    view_id, clicker = str(view.get("id") or ""), user_id(body)
    acting = await act_as(rt, clicker, app, "renew")  # again: ownership may have ended since the press
    if isinstance(acting, str):
        await update_view(client, view_id, blocks.info_modal(TITLE, f":no_entry: {acting}"))
        return
    if not await govern(rt, client, view, view_id, owner=acting[0], kind="team", name=name, hours=hours,
                        title=TITLE, renew=Renewal(old_name, old_expiration, choice)):
        return  # refused by the key policy, or asked for approval (the old key is handled once approved)
    try:
        result = await rt.keys.create_key(acting[0], name=name, hours=hours, request_id=f"{view_id}:{view.get('hash')}")
    except DataOSError as exc:
        tail = " Press Renew again." if isinstance(exc, DataOSConflict) else " The old key was not touched."
        await update_view(client, view_id, blocks.info_modal(
            TITLE, ":x: " + explain(exc, doing="renewing the team's key", key_name=name) + tail))
        return
    except StoreUnavailable as exc:
        await update_view(client, view_id, blocks.info_modal(TITLE, f":x: {exc}"))
        return
    if isinstance(result, Duplicate):  # a second submission of the same form: one key, said so
        previous = result.previous
        if previous.state == "done" and previous.key_name and previous.key_expiration:
            await update_view(client, view_id, team_created_modal(app, previous.key_name, previous.key_expiration,
                                                                  rt.clock(), delivered=None))
        return
    now = rt.clock()
    delivered = await deliver_team_secret(client, clicker, app, result, rt)
    old_outcome = await _handle_old_key(rt, app, old_name, old_expiration, choice, clicker, now)
    await rt.keys.trail.record(Audit(at=now, actor_slack_id=clicker, action="renew", outcome="ok",
                                     dataos_user_id=app, key_name=old_name,
                                     detail=f"team key; new key {result.name}; old key {old_outcome}"))
    told = await update_message(client, meta.get("ch", ""), meta.get("ts", ""), team_reminder_done_message(
        app, old_name, old_expiration,
        f":recycle: renewed by <@{shown(clicker)}> {blocks.slack_date(now)} as *{shown(result.name)}* "
        f"(the new key went to them privately); this key {old_outcome}."))
    await update_view(client, view_id, team_created_modal(app, result.name, result.expiration, now,
                                                          delivered=delivered, told=told))


def _stamp(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(text), UTC) if text.isascii() and text.isdigit() else None
    except (ValueError, OverflowError, OSError):
        return None


async def _handle_old_key(rt: Runtime, app: str, old_name: str, old_expiration: datetime, choice: str,
                          clicker: str, now: datetime) -> str:
    if choice == "keep":
        return "is left to expire"
    if choice == "now":
        try:
            done = await rt.keys.revoke_exact(app, old_name, old_expiration, actor=clicker, detail="at team renewal")
        except DataOSError as exc:
            return "could not be revoked. " + explain(exc, doing="revoking the old key", key_name=old_name)
        return {"revoked": "was revoked", "gone": "was already gone",
                "changed": "was left alone: a different key has that name now"}[done.outcome]
    hours = int(choice.split(":", 1)[1])
    revoke_at = now + timedelta(hours=hours)
    if revoke_at >= old_expiration:
        return "is left to expire: it expires before then"
    await rt.revocations.schedule_revocation(app, old_name, key_expiration=old_expiration, revoke_at=revoke_at,
                                       requested_by=clicker, now=now)
    return f"stops working {blocks.slack_date(revoke_at)} (revoked in {humanize_hours(hours)})"


def register(app: AsyncApp, rt: Runtime) -> None:
    handlers = {TEAM_RENEW_ACTION: on_renew, TEAM_REVOKE_ACTION: on_revoke, TEAM_SNOOZE_ACTION: on_snooze,
                TEAM_MUTE_ACTION: on_mute}

    @app.action(re.compile("^(" + "|".join(map(re.escape, handlers)) + ")$"))
    @tracked(rt, "action", lambda body: str((body.get("actions") or [{}])[0].get("action_id") or "team_reminder"))
    async def on_team_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        channel, _ = clicked_message(body)
        clicker = user_id(body)
        ref = parse_team_value(str(action.get("value") or ""))
        if ref is None:
            await tell(client, channel, clicker, f"{blocks.DAMAGED_BUTTON} Nothing was changed.")
            return
        action_id = str(action.get("action_id"))
        if action_id == TEAM_RENEW_ACTION:  # a modal: opened before the owner check, which it then shows
            await on_renew(rt, body, client, ref, clicker)
            return
        if await _owner_or_say(rt, client, channel, clicker, ref.app_user_id, ACTION_NAMES[action_id]) is None:
            return
        await handlers[action_id](rt, body, client, ref, clicker)

    @app.view(TEAM_RENEW_VIEW)
    @tracked(rt, "view", "team_renew")
    async def on_team_renew_submit(body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                                   client: AsyncWebClient) -> None:
        await submit_team_renew(rt, body, view, ack, client)
