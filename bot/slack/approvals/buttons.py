"""Approve, Deny (with its reason form) and Cancel on a request, wherever it shows: the approval channel,
an approver's DM, `/apikey requests`, the Home tab. Each button names the exact request (its id and key
name); the service checks the request and the clicker again, and the first decision wins."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.slack import tracked
from bot.slack.blocks.approvals import (
    APPROVE_ACTION,
    CANCEL_ACTION,
    DENY_ACTION,
    DENY_BLOCK,
    DENY_INPUT,
    DENY_VIEW,
    deny_modal,
    parse_request_value,
)
from bot.slack.blocks.common import DAMAGED_BUTTON, info_modal, text_message, working_modal
from bot.slack.common import action_value, metadata, open_view, state_value, tell, update_view, user_id
from bot.slack.errors import explain_slack
from bot.slack.home import from_home, publish_home

TITLE = "Deny a request"


async def _answer(rt: Runtime, body: dict[str, Any], respond: AsyncRespond, text: str) -> None:
    """The clicker reads the outcome where they clicked: the Home tab, or an ephemeral reply."""
    clicker = user_id(body)
    if from_home(body):
        await publish_home(rt, clicker, notice=text)
    elif body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, **text_message(text).kwargs())
    else:
        channel = str((body.get("container") or {}).get("channel_id") or "")
        if channel:
            await tell(rt.slack, channel, clicker, text)


async def on_approve(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    parsed = parse_request_value(action_value(body))
    if parsed is None:
        await _answer(rt, body, respond, DAMAGED_BUTTON)
        return
    text = await rt.approvals.decide(parsed[0], user_id(body), approve=True, key_name=parsed[1])
    await _answer(rt, body, respond, text)


async def on_deny(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
    """The reason form at once (the trigger expires); the request is checked when it is submitted."""
    parsed = parse_request_value(action_value(body))
    if parsed is None:
        await _answer(rt, body, respond, DAMAGED_BUTTON)
        return
    request = await rt.approval_requests.get(parsed[0])
    if request is None or request.state != "open":
        await _answer(rt, body, respond, rt.approvals.settled(request) if request else
                      "That request no longer exists. Nothing was changed.")
        return
    try:
        await open_view(client, str(body.get("trigger_id") or ""), deny_modal(request.id, request.key_name,
                                                                              request.requester))
    except SlackApiError as exc:
        await _answer(rt, body, respond, ":x: " + explain_slack(exc, doing="opening the Deny form"))


async def submit_deny(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck) -> None:
    raw = state_value(view, DENY_BLOCK, DENY_INPUT).get("value")
    reason = " ".join(raw.split()) if isinstance(raw, str) else ""
    if not reason:
        await ack(response_action="errors", errors={DENY_BLOCK: "Say why: the requester reads it."})
        return
    meta = metadata(view)
    await ack(response_action="update", view=working_modal(TITLE, "Denying the request…"))
    text = await rt.approvals.decide(meta.get("r", ""), user_id(body), approve=False, key_name=meta.get("n", ""),
                                     note=reason)
    await update_view(rt.slack, str(view.get("id") or ""), info_modal(TITLE, text))


async def on_cancel(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    parsed = parse_request_value(action_value(body))
    text = DAMAGED_BUTTON if parsed is None else await rt.approvals.cancel(parsed[0], user_id(body))
    await _answer(rt, body, respond, text)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action(APPROVE_ACTION)
    @tracked(rt, "action", "approval_approve")
    async def approve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_approve(rt, body, respond)

    @app.action(DENY_ACTION)
    @tracked(rt, "action", "approval_deny")
    async def deny(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await on_deny(rt, body, client, respond)

    @app.action(CANCEL_ACTION)
    @tracked(rt, "action", "approval_cancel")
    async def cancel(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_cancel(rt, body, respond)

    @app.view(DENY_VIEW)
    @tracked(rt, "view", "approval_deny")
    async def deny_submitted(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        await submit_deny(rt, body, view, ack)
