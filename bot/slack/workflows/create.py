"""The step "Create a DataOS API key": a key for `person`'s DataOS user, delivered to that person only, as
`/apikey create` delivers it (ephemeral, in their DM with the bot). The step's outputs are the key's name
and expiry, never its value. What would stop `/apikey create` stops the step, with the same sentence, and
the person is told.

Nobody gets a key they did not ask for: the step asks the person first, in their DM with the bot, with
Create my key / Don't create it. The message is posted with the step's own token, so its buttons carry the
step's execution (Slack's function interactivity): the click arrives with `function_data` and a token of
its own, everything is checked again, and the step completes from there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import DataOSError, Token
from bot.domain.durations import InvalidDuration
from bot.domain.key_policy import NeedsApproval, Refused
from bot.domain.keys import InvalidKeyName, validate_key_name
from bot.identity import Denied, Identity, failure
from bot.policy import PolicyUnavailable
from bot.service import Duplicate, StoreUnavailable
from bot.slack.approvals.gate import missing_reason_text
from bot.slack.blocks.workflows import answered_message, confirm_message, created_text, parse_confirm_value
from bot.slack.common import deliver_secret
from bot.slack.errors import explain
from bot.slack.home import publish_home
from bot.slack.workflows.definitions import CREATE_KEY
from bot.slack.workflows.runs import StepFailed, complete, first_delivery, inputs_of, text_input, user_input
from bot.text import escape

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: Who is not told by DM that a step failed for them: Slack would not let the bot reach them, or should not.
_NOT_TOLD = frozenset({"deactivated", "bot", "other_org"})


@dataclass(frozen=True)
class Plan:
    identity: Identity
    name: str | None
    hours: int


async def run(rt: Runtime, client: AsyncWebClient, event: dict[str, Any]) -> None:
    """The step starts: check everything `/apikey create` would, then ask the person."""
    execution = await first_delivery(rt, event)
    if execution is None:
        return
    inputs = inputs_of(event)
    person = ""
    try:
        person = user_input(inputs, "person")
        plan = await _plan(rt, person, inputs)
        await rt.workflow_runs.wait_for(execution, None)  # before the buttons exist: a quick click finds it
        await _ask(client, plan)
    except StepFailed as exc:
        await _fail(rt, client, execution, person, exc)


async def answer(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, *, create: bool) -> None:
    """A click on Create my key or Don't create it (function interactivity: `client` holds the token Slack
    gave this click)."""
    data: dict[str, Any] = _dict(body.get("function_data"))
    execution = str(data.get("execution_id") or "")
    function, inputs = _dict(data.get("function")), _dict(data.get("inputs"))
    clicker = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("container") or {}).get("channel_id") or "")
    ts = str((body.get("container") or {}).get("message_ts") or "")
    if not execution or function.get("callback_id") != CREATE_KEY or clicker != inputs.get("person"):
        log.warning("a workflow button that does not belong to a create step of its clicker was ignored")
        return
    if not await rt.workflow_runs.resume(execution):  # a second click, or the step already ended
        return
    if not create:
        await _update(client, channel, ts, ":no_entry_sign: You did not want the key; nothing was created.")
        await complete(rt, client, execution, CREATE_KEY,
                       error=f"<@{clicker}> chose not to have the key. Nothing was created.")
        return
    action = (body.get("actions") or [{}])[0]
    asked = parse_confirm_value(str(action.get("value") or ""))
    try:
        plan = await _plan(rt, clicker, inputs)  # everything again, now
        if asked != (plan.name, plan.hours):
            raise StepFailed("What the workflow asks for changed since I asked you (the key policy's default "
                             "validity, probably). Nothing was created; run the workflow again.")
        token = await _make(rt, plan, execution)
    except StepFailed as exc:
        await _update(client, channel, ts, f":x: {exc}")
        await _fail(rt, client, execution, "", exc)
        return
    delivered = True
    if token.secret is not None:
        delivered = await deliver_secret(rt.slack, clicker, token, rt.clock())
        await publish_home(rt, clicker)
    await _update(client, channel, ts, created_text(token.name, token.expiration, delivered))
    await complete(rt, client, execution, CREATE_KEY, outputs=outputs_of(token.name, token.expiration))


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def outputs_of(name: str, expiration: datetime) -> dict[str, Any]:
    return {"key_name": name, "expires_at": int(expiration.timestamp())}


async def _fail(rt: Runtime, client: AsyncWebClient, execution: str, person: str, exc: StepFailed) -> None:
    sentence = str(exc)
    if person and exc.tell:
        await rt.dm(person, f":x: A workflow asked me to create a DataOS API key for you, and I did not: {sentence}")
    await complete(rt, client, execution, CREATE_KEY, error=sentence)


async def _ask(client: AsyncWebClient, plan: Plan) -> None:
    person = plan.identity.slack_user_id
    try:
        opened = await client.conversations_open(users=person)
        await client.chat_postMessage(channel=str(opened["channel"]["id"]), unfurl_links=False,
                                      **confirm_message(plan.name, plan.hours).kwargs())
    except Exception as exc:
        log.warning("could not ask %s to confirm a workflow's key: %s", person, failure(exc))
        raise StepFailed(f"I could not ask <@{person}> in a DM (Slack answered {failure(exc)}), so nothing was "
                         "created.") from None


async def _update(client: AsyncWebClient, channel: str, ts: str, text: str) -> None:
    if not channel or not ts:
        return
    try:
        await client.chat_update(channel=channel, ts=ts, **answered_message(text).kwargs())
    except Exception as exc:  # the step's outcome does not depend on it
        log.warning("could not update a workflow's confirmation in %s: %s", channel, failure(exc))


async def _plan(rt: Runtime, person: str, inputs: dict[str, Any]) -> Plan:
    if not person:
        raise StepFailed("The step needs a person to make the key for. Nothing was created.")
    identity = await rt.keys.identify(person)
    if isinstance(identity, Denied):
        raise StepFailed(identity.message, tell=identity.reason not in _NOT_TOLD)
    try:
        name = validate_key_name(text_input(inputs, "name") or None)
    except InvalidKeyName as exc:
        raise StepFailed(f"{escape(str(exc))} Nothing was created.") from None
    try:
        typed = text_input(inputs, "validity", 32)
        hours = rt.policy.parse(typed) if typed else (await rt.governance.form_policy(person, "personal")).default
        decision = await rt.governance.decide(person, "personal", hours)
    except InvalidDuration as exc:
        raise StepFailed(f"{escape(str(exc))} Nothing was created.") from None
    except PolicyUnavailable as exc:
        raise StepFailed(str(exc)) from None
    if isinstance(decision, Refused):
        raise StepFailed(decision.sentence + " Nothing was created.")
    if isinstance(decision, NeedsApproval):
        raise StepFailed(missing_reason_text(hours) + " This step makes only keys that need no approval; "
                         "`/apikey create` asks the approvers. Nothing was created.")
    return Plan(identity, name, hours)


async def _make(rt: Runtime, plan: Plan, execution: str) -> Token:
    try:
        result = await rt.keys.create_key(plan.identity, name=plan.name, hours=plan.hours,
                                          request_id=f"workflow:{execution}")
    except DataOSError as exc:
        raise StepFailed(explain(exc, doing="creating your key", key_name=plan.name)) from None
    except StoreUnavailable as exc:
        raise StepFailed(str(exc)) from None
    if isinstance(result, Duplicate):  # this very execution made it already (its record says so)
        previous = result.previous
        if previous.state == "done" and previous.key_name and previous.key_expiration:
            return Token(name=previous.key_name, expiration=previous.key_expiration)
        raise StepFailed("This step's key is already being made. Nothing more was created.")
    return result
