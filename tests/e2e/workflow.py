"""Running Workflow Builder steps against the bot as Slack does: the stand-in makes the execution and its
`function_executed` event (`SlackFake.run_function`), which is delivered signed over HTTP."""

from __future__ import annotations

import json
from typing import Any

from bot.playground.slack_functions import Execution
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
