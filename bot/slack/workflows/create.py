"""The step "Create a DataOS API key": a key for `person`'s DataOS user, delivered to that person only, as
`/apikey create` delivers it (ephemeral, in their DM with the bot). The step's outputs are the key's name
and expiry, never its value. What would stop `/apikey create` stops the step, with the same sentence, and
the person is told."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import DataOSError, Token
from bot.domain.durations import InvalidDuration
from bot.domain.key_policy import NeedsApproval, Refused
from bot.domain.keys import InvalidKeyName, validate_key_name
from bot.identity import Denied, Identity
from bot.policy import PolicyUnavailable
from bot.service import Duplicate, StoreUnavailable
from bot.slack.approvals.gate import missing_reason_text
from bot.slack.common import deliver_secret
from bot.slack.errors import explain
from bot.slack.home import publish_home
from bot.slack.workflows.definitions import CREATE_KEY
from bot.slack.workflows.runs import StepFailed, complete, first_delivery, inputs_of, text_input, user_input
from bot.text import escape, shown

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: Who is not told by DM that a step failed for them: Slack would not let the bot reach them, or should not.
_NOT_TOLD = frozenset({"deactivated", "bot", "other_org"})


async def run(rt: Runtime, client: AsyncWebClient, event: dict[str, Any]) -> None:
    execution = await first_delivery(rt, event)
    if execution is None:
        return
    inputs = inputs_of(event)
    person, tell = "", True
    try:
        person = user_input(inputs, "person")
        if not person:
            raise StepFailed("The step needs a person to make the key for. Nothing was created.")
        identity = await rt.keys.identify(person)
        if isinstance(identity, Denied):
            tell = identity.reason not in _NOT_TOLD
            raise StepFailed(identity.message)
        token = await _make(rt, identity, inputs, execution)
    except StepFailed as exc:
        sentence = str(exc)
        if person and tell:
            await rt.dm(person, f":x: A workflow asked me to create a DataOS API key for you, and I did not: "
                                f"{sentence}")
        await complete(rt, client, execution, CREATE_KEY, error=sentence)
        return
    if token.secret is not None:
        delivered = await deliver_secret(rt.slack, person, token, rt.clock())
        if not delivered:  # the key exists: its owner hears how to see it (never the key itself)
            await rt.dm(person, f":warning: A workflow created the DataOS API key `{shown(token.name)}` for you, but "
                                "Slack did not take the private message with it. `/apikey list` can reveal it.")
        await publish_home(rt, person)
    await complete(rt, client, execution, CREATE_KEY, outputs=outputs_of(token.name, token.expiration))


def outputs_of(name: str, expiration: datetime) -> dict[str, Any]:
    return {"key_name": name, "expires_at": int(expiration.timestamp())}


async def _make(rt: Runtime, identity: Identity, inputs: dict[str, Any], execution: str) -> Token:
    person = identity.slack_user_id
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
    try:
        result = await rt.keys.create_key(identity, name=name, hours=hours, request_id=f"workflow:{execution}")
    except DataOSError as exc:
        raise StepFailed(explain(exc, doing="creating your key", key_name=name)) from None
    except StoreUnavailable as exc:
        raise StepFailed(str(exc)) from None
    if isinstance(result, Duplicate):  # this very execution made it already (its record says so)
        previous = result.previous
        if previous.state == "done" and previous.key_name and previous.key_expiration:
            return Token(name=previous.key_name, expiration=previous.key_expiration)
        raise StepFailed("This step's key is already being made. Nothing more was created.")
    return result
