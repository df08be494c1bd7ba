"""The steps' listeners: Bolt's `app.function` for each callback id (acknowledged by Bolt at once), and the
buttons of a step's confirmation. Registered by `bot.slack.surfaces`; the approval service's news of
requests a step opened is subscribed by `bot.compose.register_all` (`request.subscribe`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import count_request
from bot.slack import tracked
from bot.slack.blocks.workflows import CONFIRM_ACTION, DECLINE_ACTION
from bot.slack.common import oops_text
from bot.slack.workflows import create, expiring, request
from bot.slack.workflows.definitions import CREATE_KEY, LIST_EXPIRING, REQUEST_APP_KEY
from bot.slack.workflows.runs import complete, execution_of

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
Step = Callable[["Runtime", AsyncWebClient, dict[str, Any]], Awaitable[None]]


def register(app: AsyncApp, rt: Runtime) -> None:
    for callback_id, step in ((CREATE_KEY, create.run), (REQUEST_APP_KEY, request.run),
                              (LIST_EXPIRING, expiring.run)):
        app.function(callback_id)(_listener(rt, callback_id, step))

    @app.action(CONFIRM_ACTION)
    @tracked(rt, "action", CONFIRM_ACTION)
    async def confirm(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await create.answer(rt, body, client, create=True)

    @app.action(DECLINE_ACTION)
    @tracked(rt, "action", DECLINE_ACTION)
    async def decline(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await create.answer(rt, body, client, create=False)


def _listener(rt: Runtime, callback_id: str, step: Step) -> Callable[..., Awaitable[None]]:
    async def listener(event: dict[str, Any], client: AsyncWebClient) -> None:
        # `client` carries the execution's own token (Bolt's function-token middleware): used for this
        # execution's completion only, and gone with the request.
        async with rt.work():
            try:
                await step(rt, client, event)
            except Exception:
                count_request("workflow", callback_id, "error")
                log.exception("workflow step %s failed", callback_id)
                execution, _ = execution_of(event)
                if execution:  # the workflow stops with a sentence rather than waiting in silence
                    try:
                        await complete(rt, client, execution, callback_id, error=oops_text().removeprefix(":x: "))
                    except Exception as exc:
                        log.warning("could not end workflow step %s: %s", execution, type(exc).__name__)
                return
            count_request("workflow", callback_id, "ok")

    listener.__name__ = f"workflow_{callback_id}"
    return listener
