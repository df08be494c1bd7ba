"""What every step shares: an execution handled once, and completed once.

Slack re-sends `function_executed` when it thinks a delivery failed; the execution is claimed in the
database by its `function_execution_id` before anything else, so a repeat (on any replica, after a restart)
does nothing. Its completion is claimed too, and what Slack answered is recorded: an answer lost on the way
back is never followed by a second completion.

Tokens: a step completes with the client Bolt hands its listener, which carries the execution's own
`bot_access_token` (Bolt's function-token middleware) and dies with the execution; it is never stored. A
step that waits for an approval completes later with the bot's own token, which Slack accepts for
`functions.completeSuccess` / `functions.completeError` (no scope needed), after the function token has
expired.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.delivery import fate_of
from bot.identity import failure
from bot.slack.workflows.definitions import BY_ID

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: Slack's answers that mean the completion can never be taken: the execution ended, or is unknown.
ENDED = frozenset({"execution_not_in_running_state", "function_execution_not_found"})
#: Slack's error message is shown in the workflow's activity: it is a sentence, kept short.
ERROR_MAX = 1000


class StepFailed(Exception):
    """The step ends with this sentence (the slash command's own, for the same cause); `tell`: the person it
    was for may be told by DM (not a deactivated account, a bot or someone from another organisation)."""

    def __init__(self, sentence: str, *, tell: bool = True) -> None:
        super().__init__(sentence)
        self.tell = tell


def execution_of(event: dict[str, Any]) -> tuple[str, str]:
    """(function_execution_id, callback_id) of a `function_executed` event."""
    function = event.get("function") or {}
    return str(event.get("function_execution_id") or ""), str(function.get("callback_id") or "")


async def first_delivery(rt: Runtime, event: dict[str, Any]) -> str | None:
    """The execution id if this delivery is the first of its execution (claimed now), else None."""
    execution, callback = execution_of(event)
    if not execution:
        return None
    if not await rt.workflow_runs.claim_run(execution[:64], callback[:64], rt.clock()):
        log.info("skipped a repeated function_executed for execution %s (%s)", execution, callback)
        return None
    return execution


def inputs_of(event: dict[str, Any]) -> dict[str, Any]:
    inputs = event.get("inputs")
    return inputs if isinstance(inputs, dict) else {}


def text_input(inputs: dict[str, Any], name: str, limit: int = 200) -> str:
    value = inputs.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise StepFailed(f"The input “{name}” could not be read. Nothing was changed.")
    text = str(value).strip()
    if len(text) > limit:
        raise StepFailed(f"The input “{name}” is longer than {limit} characters. Nothing was changed.")
    return text


def user_input(inputs: dict[str, Any], name: str) -> str:
    value = text_input(inputs, name, 32)
    if value and not (value[0] in "UW" and value[1:].isalnum() and value.isascii()):
        raise StepFailed(f"The input “{name}” is not a Slack user. Nothing was changed.")
    return value


async def complete(rt: Runtime, client: AsyncWebClient, execution_id: str, callback_id: str, *,
                   outputs: dict[str, Any] | None = None, error: str | None = None, later: bool = False) -> str:
    """Complete the execution once (`outputs`: success; `error`: failure). Returns what became of it: done,
    failed (the step ended with its error, or Slack will never take it), unknown (Slack's answer was lost),
    waiting (with `later`, for a step that waits for an approval: Slack refused for now, and the governance
    pass tries again), or skipped (already completed, or being completed elsewhere)."""
    if not await rt.workflow_runs.begin_completion(execution_id):
        return "skipped"
    if outputs is not None:
        declared = BY_ID[callback_id].output_names()
        assert set(outputs) <= declared, f"undeclared outputs {set(outputs) - declared}"
    try:
        if error is None:
            await client.functions_completeSuccess(function_execution_id=execution_id, outputs=outputs or {})
        else:
            await client.functions_completeError(function_execution_id=execution_id, error=error[:ERROR_MAX])
    except Exception as exc:
        fate, code = fate_of(exc)
        code = code if isinstance(exc, SlackApiError) else failure(exc)
        state = ("failed" if code in ENDED or fate in ("undeliverable", "token") else
                 "unknown" if fate == "unknown" else "waiting" if later else "failed")
        log.warning("could not complete workflow step %s (%s): %s; %s", execution_id, callback_id, code,
                    {"failed": "not sent again", "unknown": "not sent again: Slack may have it",
                     "waiting": "tried again later"}[state])
        await rt.workflow_runs.end_completion(execution_id, state, rt.clock())
        return state
    await rt.workflow_runs.end_completion(execution_id, "done" if error is None else "failed", rt.clock())
    return "done" if error is None else "failed"
