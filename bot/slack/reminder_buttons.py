"""The buttons on a reminder DM (Renew, Revoke, Snooze, Mute) and the renew form's submission.

Each button updates the DM it sits on (`chat.update` on the DM's channel and ts) to say what was done,
so it cannot be pressed twice by mistake. The key a button names is looked up under the clicking
person's own DataOS user: a changed value can never reach someone else's key.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.approvals import Renewal
from bot.dataos import DataOSConflict, DataOSError
from bot.domain.durations import humanize_hours
from bot.domain.keys import is_ref
from bot.domain.names import suggest_name
from bot.domain.policy import ValidityPolicy
from bot.identity import Denied, Identity
from bot.service import Duplicate, StoreUnavailable
from bot.slack import tracked
from bot.slack.approvals.gate import fit_form, govern
from bot.slack.blocks.common import DAMAGED_BUTTON, info_modal, slack_date
from bot.slack.blocks.forms import created_modal, renew_modal
from bot.slack.blocks.ids import (
    MUTE_ACTION,
    NAME_BLOCK,
    OLD_BLOCK,
    OLD_INPUT,
    REMINDER_REVOKE_ACTION,
    RENEW_ACTION,
    RENEW_VIEW,
    SNOOZE_ACTION,
)
from bot.slack.blocks.reminders import reminder_done_message
from bot.slack.common import (
    clicked_message,
    deliver_secret,
    metadata,
    open_form,
    state_block_id,
    state_value,
    tell,
    update_message,
    update_view,
    user_id,
)
from bot.slack.errors import explain, explain_slack
from bot.slack.forms import begin, read_create_form
from bot.slack.home import publish_home
from bot.slack.key_buttons import replaced_text
from bot.store import Audit
from bot.text import shown

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class KeyRef:
    name: str
    expiration: datetime
    lifetime_hours: int | None


def parse_value(value: str) -> KeyRef | None:
    try:
        data = json.loads(value)
        name, stamp = str(data["k"]), int(data["e"])
        hours = int(data.get("h") or 0) or None
        expiration = datetime.fromtimestamp(stamp, UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None
    if not name or len(name) > 255:
        return None
    return KeyRef(name, expiration, hours)


async def _identity_or_say(rt: Runtime, client: AsyncWebClient, body: dict[str, Any]) -> Identity | None:
    identity = await rt.keys.identify(user_id(body))
    if isinstance(identity, Denied):
        channel, _ = clicked_message(body)
        await tell(client, channel, user_id(body), f":no_entry: {identity.message}")
        return None
    return identity


async def _real_name(rt: Runtime, client: AsyncWebClient, body: dict[str, Any], identity: Identity,
                     ref: KeyRef) -> KeyRef | None:
    """A button names a key too long for Slack by a digest (`key_ref`); its records need the name."""
    if not is_ref(ref.name):
        return ref
    try:
        return KeyRef(await rt.keys.resolve(identity.dataos_user_id, ref.name), ref.expiration, ref.lifetime_hours)
    except DataOSError as exc:
        await tell(client, clicked_message(body)[0], identity.slack_user_id,
                         ":x: " + explain(exc, doing="looking up your key", read=True))
        return None


async def on_snooze(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: KeyRef) -> None:
    identity = await _identity_or_say(rt, client, body)
    if identity is None or (found := await _real_name(rt, client, body, identity, ref)) is None:
        return
    ref = found
    now = rt.clock()
    until = min(now + timedelta(hours=rt.snooze_hours), ref.expiration - timedelta(minutes=1))
    channel, ts = clicked_message(body)
    if until <= now:
        await update_message(client, channel, ts, reminder_done_message(
            ref.name, ref.expiration, "it expires before a snooze would end, so there is nothing to snooze."))
        return
    await rt.sightings.update_sighting((identity.dataos_user_id, ref.name, ref.expiration), now=now,
                                       snoozed_until=until)
    await update_message(client, channel, ts, reminder_done_message(
        ref.name, ref.expiration, f":zzz: snoozed; I will remind you again {slack_date(until)}."))


async def on_mute(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: KeyRef) -> None:
    identity = await _identity_or_say(rt, client, body)
    if identity is None or (found := await _real_name(rt, client, body, identity, ref)) is None:
        return
    ref = found
    await rt.sightings.update_sighting((identity.dataos_user_id, ref.name, ref.expiration), now=rt.clock(), muted=True)
    channel, ts = clicked_message(body)
    await update_message(client, channel, ts, reminder_done_message(
        ref.name, ref.expiration, ":no_bell: muted; no more reminders for this key."))


async def on_revoke(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: KeyRef) -> None:
    """Revoke exactly the key this reminder is about: the same name with another expiration is a newer
    key (this one revoked and made again), and is left alone."""
    identity = await _identity_or_say(rt, client, body)
    if identity is None:
        return
    channel, ts = clicked_message(body)
    try:
        done = await rt.keys.revoke_exact(identity.dataos_user_id, ref.name, ref.expiration,
                                          actor=identity.slack_user_id, detail="from a reminder")
    except DataOSError as exc:
        await tell(client, channel, identity.slack_user_id,
                         ":x: " + explain(exc, doing="revoking your key", key_name=ref.name))
        return
    outcome = {
        "revoked": ":wastebasket: revoked. Anything still using it is now refused by DataOS.",
        "gone": "already gone from DataOS; nothing was changed.",
        "changed": f":warning: {replaced_text(done.name)} `/apikey list` shows the key that has that name now.",
    }[done.outcome]
    await update_message(client, channel, ts, reminder_done_message(done.name, ref.expiration, outcome))


async def on_renew(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: KeyRef) -> None:
    await open_renew_form(rt, body, client, ref)


async def open_renew_form(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, ref: KeyRef, *,
                          revoke_old: str | None = None) -> None:
    """Open the renew form at once (the trigger expires), prefilled from the old key. `revoke_old`
    preselects what happens to the old key ("now" for a key that leaked)."""
    try:
        form = await open_form(client, str(body.get("trigger_id") or ""),
                               renew_form(rt, body, ref, revoke_old=revoke_old))
    except SlackApiError as exc:
        await tell(client, clicked_message(body)[0], user_id(body),
                   ":x: " + explain_slack(exc, doing="opening the renew form"))
        return
    await fit_form(rt, client, form, user_id(body), "personal",
                   lambda policy: renew_form(rt, body, ref, revoke_old=revoke_old, policy=policy))


def renew_form(rt: Runtime, body: dict[str, Any], ref: KeyRef, *, revoke_old: str | None = None,
               policy: ValidityPolicy | None = None) -> dict[str, Any]:
    """The renew form of `ref`, pressed on the message `body` names (updated once the key is renewed); drawn
    for `policy` (the person's rule), else the defaults' rule."""
    channel, ts = clicked_message(body)
    now = rt.clock()
    return renew_modal(
        policy or rt.governance.opening_form(), old_name=ref.name, old_expiration=ref.expiration, now=now,
        suggested_name="" if is_ref(ref.name) else suggest_name(ref.name, now), lifetime_hours=ref.lifetime_hours,
        grace_hours=rt.renew_grace_hours, revoke_old=revoke_old,
        meta={"old": ref.name, "exp": str(int(ref.expiration.timestamp())), "ch": channel, "ts": ts},
    )


async def submit_renew(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                       client: AsyncWebClient) -> None:
    name, hours, errors = read_create_form(rt, view)
    meta = metadata(view)
    old_name = meta.get("old", "")
    choice = (state_value(view, OLD_BLOCK, OLD_INPUT).get("selected_option") or {}).get("value", "")
    if choice not in ("now", "keep") and not re.fullmatch(r"in:\d{1,5}", str(choice)):
        errors[OLD_BLOCK] = "Choose what happens to the old key."
    if name is not None and name == old_name:
        errors[NAME_BLOCK] = "The new key needs a name of its own; the old one still exists."
    if errors or hours is None or not old_name:
        errors = {state_block_id(view, block): text for block, text in errors.items()}
        await ack(response_action="errors", errors=errors or {NAME_BLOCK: "This form is incomplete."})
        return
    title = "Renew a DataOS key"
    view_id, identity = await begin(rt, body, view, ack, client, title, "Creating the new key…")
    if identity is None:
        return
    old_at = _stamp(meta.get("exp", ""))
    renewal = Renewal(old_name, old_at, str(choice)) if old_at is not None else None
    if not await govern(rt, client, view, view_id, owner=identity, kind="personal", name=name, hours=hours,
                        title=title, renew=renewal):
        return  # refused by the key policy, or asked for approval (the old key is handled once approved)
    try:
        result = await rt.keys.create_key(identity, name=name, hours=hours, request_id=f"{view_id}:{view.get('hash')}",
                                          how="renewed")
    except DataOSConflict as exc:
        await update_view(client, view_id, info_modal(
            title, ":x: " + explain(exc, doing="renewing your key", key_name=name) + " Press Renew again."))
        return
    except DataOSError as exc:
        await update_view(client, view_id, info_modal(
            title, ":x: " + explain(exc, doing="renewing your key", key_name=name) + " The old key was not touched."))
        return
    except StoreUnavailable as exc:
        await update_view(client, view_id, info_modal(title, f":x: {exc}"))
        return
    if isinstance(result, Duplicate):
        return
    now = rt.clock()
    old_expiration = _stamp(meta.get("exp", ""))
    delivered = await deliver_secret(client, identity.slack_user_id, result, now)
    old_outcome = await _handle_old_key(rt, identity, old_name, old_expiration, str(choice), now)
    await rt.keys.trail.record(Audit(at=now, actor_slack_id=identity.slack_user_id, action="renew", outcome="ok",
                               dataos_user_id=identity.dataos_user_id, key_name=old_name,
                               detail=f"new key {result.name}; old key {old_outcome}"))
    created = created_modal(result.name, result.expiration, now, delivered=delivered,
                            note=_sentence(f"The old key *{shown(old_name)}* {old_outcome}"))
    await update_view(client, view_id, created)
    await update_message(client, meta.get("ch", ""), meta.get("ts", ""), reminder_done_message(
        old_name, old_expiration or now,
        _sentence(f":recycle: renewed as *{shown(result.name)}*; this key {old_outcome}")))
    await publish_home(rt, identity.slack_user_id)


def _sentence(text: str) -> str:
    """`text` with its full stop: an outcome may already end in a sentence of its own."""
    return text if text.endswith((".", "!", "?")) else text + "."


def _stamp(text: str) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(text), UTC) if text.isascii() and text.isdigit() else None
    except (ValueError, OverflowError, OSError):
        return None


async def _handle_old_key(rt: Runtime, identity: Identity, old_name: str, old_expiration: datetime | None,
                          choice: str, now: datetime) -> str:
    if choice == "keep":
        return "is left to expire"
    if old_expiration is None:  # the form lost which key it was: never guess, a later key may share the name
        return "was left alone (I could not tell exactly which key it was); revoke it with `/apikey revoke`"
    if choice == "now":
        try:
            done = await rt.keys.revoke_exact(identity.dataos_user_id, old_name, old_expiration,
                                              actor=identity.slack_user_id, detail="at renewal")
        except DataOSError as exc:
            return "could not be revoked. " + explain(exc, doing="revoking the old key", key_name=old_name)
        return {"revoked": "was revoked", "gone": "was already gone",
                "changed": "was left alone: a different key has that name now"}[done.outcome]
    hours = int(choice.split(":", 1)[1])
    revoke_at = now + timedelta(hours=hours)
    if revoke_at >= old_expiration:  # a form opened long ago: the key expires first
        return "is left to expire: it expires before then"
    await rt.revocations.schedule_revocation(identity.dataos_user_id, old_name, key_expiration=old_expiration,
                                       revoke_at=revoke_at, requested_by=identity.slack_user_id, now=now)
    return f"will be revoked {slack_date(revoke_at)} (in {humanize_hours(hours)})"


def register(app: AsyncApp, rt: Runtime) -> None:
    handlers = {
        RENEW_ACTION: on_renew,
        REMINDER_REVOKE_ACTION: on_revoke,
        SNOOZE_ACTION: on_snooze,
        MUTE_ACTION: on_mute,
    }

    @app.action(re.compile("^(" + "|".join(map(re.escape, handlers)) + ")$"))
    @tracked(rt, "action", lambda body: str((body.get("actions") or [{}])[0].get("action_id") or "reminder"))
    async def on_reminder_button(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        action = (body.get("actions") or [{}])[0]
        ref = parse_value(str(action.get("value") or ""))
        if ref is None:
            channel, _ = clicked_message(body)
            await tell(client, channel, user_id(body), f"{DAMAGED_BUTTON} Use `/apikey list` to manage "
                             "your keys.")
            return
        await handlers[str(action.get("action_id"))](rt, body, client, ref)

    @app.view(RENEW_VIEW)
    @tracked(rt, "view", "renew")
    async def on_renew_submit(body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                              client: AsyncWebClient) -> None:
        await submit_renew(rt, body, view, ack, client)
