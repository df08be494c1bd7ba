"""Running Workflow Builder steps against the bot as Slack does: the stand-in makes the execution and its
`function_executed` event (`SlackFake.run_function`), which is delivered signed over HTTP."""

from __future__ import annotations

import json
from typing import Any

from bot.playground.slack.functions import Execution
from tests.e2e.conftest import Bot


def deliver(bot: Bot, body: dict[str, Any], *, retry: int | None = None, event_id: str | None = None) -> None:
    """Deliver a `function_executed` callback (again, as Slack's retry `retry`, or under another event id)."""
    if event_id is not None:
        body = dict(body, event_id=event_id)
    headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
    response = bot.user.post(json.dumps(body), "application/json", headers=headers)
    assert response.status_code == 200, response.text
    assert bot.server.call(bot.runtime.drain(10))


def run_step(bot: Bot, callback_id: str, **inputs: Any) -> Execution:
    """Run one step as a workflow would; returns the execution once the bot is done with it for now."""
    execution, body = bot.slack.run_function(callback_id, inputs)
    deliver(bot, body)
    return execution


def completions(slack: Any, execution: Execution) -> list[Any]:
    """Every completion the bot sent for the execution (taken or refused)."""
    return [c for c in getattr(slack, "slack", slack).calls if c.method.startswith("functions.complete")
            and c.params.get("function_execution_id") == execution.id]


def with_token(slack: Any, token: str) -> list[Any]:
    """Every call made with this token."""
    return [c for c in getattr(slack, "slack", slack).calls if c.headers.get("Authorization") == f"Bearer {token}"]


def step_message(bot: Bot, execution: Execution) -> Any:
    """The message the step posted with its own token (the person's confirmation)."""
    return bot.slack.wait_for("chat.postMessage", where=lambda c: c.result.get("ok") is True and
                              c.headers.get("Authorization") == f"Bearer {execution.token}")[0]


def press_in_step(bot: Bot, execution: Execution, action_id: str, user: str) -> None:
    """Press a button of the step's message as `user`: Slack sends the click with the step's execution
    (function interactivity: `function_data` and a token of the click's own)."""
    post = step_message(bot, execution)
    channel, ts = str(post.result["channel"]), str(post.result["ts"])
    extras = bot.slack.function_interaction(channel, ts)
    assert extras is not None
    value = next(e["value"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == action_id)
    payload = {
        "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0123"},
        "team": {"id": "T0123", "domain": "acme"}, "api_app_id": "A0ABC",
        "trigger_id": bot.slack.trigger(f"step.{execution.id}.{action_id}"),
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "directmessage"},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "workflow_create", "value": value,
                     "action_ts": "1700000001.000200"}],
        **extras,
    }
    response = bot.user.interact(payload)
    assert response.status_code == 200, response.text
    assert bot.server.call(bot.runtime.drain(10))


def create_for(bot: Bot, person: str, **inputs: Any) -> Execution:
    """Run "Create a DataOS API key" for `person`, who confirms it."""
    execution = run_step(bot, "create_dataos_key", person=person, **inputs)
    press_in_step(bot, execution, "workflow_create_confirm", person)
    return execution
