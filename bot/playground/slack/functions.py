"""Workflow Builder steps as Slack runs them, for the Slack stand-in (mixed into `SlackFake`): a step's
execution (`run_function`: the `function_executed` event Slack sends the app, with its inputs, its
`function_execution_id` and a function token `xwfp-…`), and `functions.completeSuccess` /
`functions.completeError`, as strict as Slack:

- an execution is completed once: a second completion answers `execution_not_in_running_state`, an
  unknown id `function_execution_not_found`;
- outputs must match the step's declared output parameters (`bot.slack.workflows.definitions`, what the
  manifest declares): an undeclared output, a missing required one or a value of the wrong type answers
  `parameter_validation_failed` with Slack's messages;
- a function token works only while its execution runs and for at most 15 minutes from the event
  (Slack revokes it at completion); after that it is `invalid_auth`, like any unknown token. The bot's own
  token may complete an execution (Slack's `functions.*` need no scope);
- function interactivity: a message posted with an execution's token remembers it, and a click on its
  buttons (`function_interaction`) carries `function_data` (the execution, its function and inputs) and a
  token of its own, as Slack sends it.
"""

from __future__ import annotations

import itertools
import json
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.playground.slack.directory import TEAM_ID
from bot.slack.workflows.definitions import BY_ID, INTEGER, STRING, TIMESTAMP, USER, Param

#: How long a function token lives at most (Slack: revoked at completion, or 15 minutes after it was issued).
FUNCTION_TOKEN_SECONDS = 15 * 60
_ALNUM = string.ascii_uppercase + string.digits


@dataclass
class Execution:
    id: str
    callback_id: str
    token: str
    inputs: dict[str, Any]
    started: float  # on the fake's clock
    event_id: str
    state: str = "running"  # running | completed | failed
    outputs: dict[str, Any] | None = None
    error: str | None = None
    #: Which token completed it: "function" (one of its own) or "bot".
    completed_with: str | None = None
    #: Every token Slack gave it (the event's, then one per click on its buttons), with when (fake clock).
    tokens: dict[str, float] = field(default_factory=dict)


class FunctionsSide:
    """Mixed into `SlackFake`, which sets these up."""

    token: str
    clock: Callable[[], float]
    users: dict[str, dict[str, Any]]
    executions: dict[str, Execution]
    step_messages: dict[tuple[str, str], str]
    _lock: threading.Condition
    _fn_ids = itertools.count(1)

    def run_function(self, callback_id: str, inputs: dict[str, Any]) -> tuple[Execution, dict[str, Any]]:
        """A workflow reaches one of the app's steps: the execution, and the `function_executed` event
        callback Slack sends the app for it (the caller delivers it, and may deliver it again as a retry).
        Inputs are checked as Workflow Builder checks them before it runs a step (ValueError)."""
        step = BY_ID.get(callback_id)
        if step is None:
            raise ValueError(f"the app declares no step {callback_id!r}")
        unknown = set(inputs) - step.input_names()
        if unknown:
            raise ValueError(f"{callback_id} has no inputs {sorted(unknown)}")
        for param in step.inputs:
            value = inputs.get(param.name)
            if value is None:
                if param.required:
                    raise ValueError(f"{callback_id} needs its input {param.name!r}")
                continue
            problem = _type_problem(param, value, self.users)
            if problem:
                raise ValueError(problem)
        n = next(self._fn_ids)
        execution = Execution(
            id="Fx" + "".join(secrets.choice(_ALNUM) for _ in range(10)), callback_id=callback_id,
            token=f"xwfp-{n}-{secrets.token_hex(12)}", inputs=dict(inputs), started=self.clock(),
            event_id=f"EvF{n:08d}")
        execution.tokens[execution.token] = execution.started
        with self._lock:
            self.executions[execution.id] = execution
        return execution, self.function_event(execution)

    def function_event(self, execution: Execution) -> dict[str, Any]:
        step = BY_ID[execution.callback_id]
        return {
            "token": "legacy", "team_id": TEAM_ID, "api_app_id": "A0ABC", "type": "event_callback",
            "event_id": execution.event_id, "event_time": 1700000000,
            "authorizations": [{"team_id": TEAM_ID, "user_id": "UBOT0001", "is_bot": True,
                                "is_enterprise_install": False}],
            "event": {
                "type": "function_executed",
                "function": {"id": f"Fn{step.callback_id[:8].upper()}", "callback_id": step.callback_id,
                             "title": step.title, "description": step.description, "type": "app",
                             "input_parameters": [_wire(p) for p in step.inputs],
                             "output_parameters": [_wire(p) for p in step.outputs],
                             "app_id": "A0ABC", "date_created": 1694727597, "date_updated": 1698947481,
                             "date_deleted": 0},
                "inputs": dict(execution.inputs), "function_execution_id": execution.id,
                "workflow_execution_id": "Wx" + execution.id[2:], "event_ts": "1700000000.000100",
                "bot_access_token": execution.token,
            },
        }

    def function_token_allows(self, token: str) -> bool:
        """A function token Slack still honours: its execution runs, and it is under 15 minutes old."""
        execution = self.execution_for_token(token)
        return execution is not None and execution.state == "running" and \
            self.clock() - execution.tokens[token] < FUNCTION_TOKEN_SECONDS

    def execution_for_token(self, token: str) -> Execution | None:
        with self._lock:
            return next((e for e in self.executions.values() if token in e.tokens), None)

    def remember_step_message(self, channel: str, ts: str) -> None:
        """`chat.postMessage` took a message: posted with an execution's token, its buttons belong to it."""
        execution = self.execution_for_token(self.token_used)
        if execution is not None:
            self.step_messages[(channel, ts)] = execution.id

    def function_interaction(self, channel: str, ts: str) -> dict[str, Any] | None:
        """What Slack adds to a click on a button of a step's message: the execution and a fresh token (None
        for a message no step posted)."""
        with self._lock:
            execution = self.executions.get(self.step_messages.get((channel, ts), ""))
            if execution is None:
                return None
            token = f"xwfp-{next(self._fn_ids)}-{secrets.token_hex(12)}"
            execution.tokens[token] = self.clock()
        return {
            "function_data": {"execution_id": execution.id, "inputs": dict(execution.inputs),
                              "function": {"callback_id": execution.callback_id}},
            "interactivity": {"interactivity_pointer": f"{secrets.randbelow(10**9)}.{execution.id}"},
            "bot_access_token": token,
        }

    def execution(self, execution_id: str) -> Execution:
        return self.executions[execution_id]

    # ---- Web API (called by SlackFake._answer, with `token_used` set to the caller's token) --------

    token_used: str = ""

    def _m_functions_completeSuccess(self, p: dict[str, Any]) -> dict[str, Any]:
        execution, refusal = self._completable(p)
        if execution is None:
            return refusal
        outputs = p.get("outputs")
        if isinstance(outputs, str):
            try:
                outputs = json.loads(outputs)
            except ValueError:
                outputs = None
        if not isinstance(outputs, dict):
            return {"ok": False, "error": "invalid_arguments",
                    "response_metadata": {"messages": ["[ERROR] outputs must be an object"]}}
        problems = _output_problems(execution.callback_id, outputs, self.users)
        if problems:
            return {"ok": False, "error": "parameter_validation_failed",
                    "response_metadata": {"messages": [f"[ERROR] {m}" for m in problems]}}
        self._finish(execution, "completed")
        execution.outputs = outputs
        return {"ok": True}

    def _m_functions_completeError(self, p: dict[str, Any]) -> dict[str, Any]:
        execution, refusal = self._completable(p)
        if execution is None:
            return refusal
        error = p.get("error")
        if not isinstance(error, str) or not error.strip():
            return {"ok": False, "error": "invalid_arguments",
                    "response_metadata": {"messages": ["[ERROR] missing required field: error"]}}
        self._finish(execution, "failed")
        execution.error = error
        return {"ok": True}

    def _completable(self, p: dict[str, Any]) -> tuple[Execution | None, dict[str, Any]]:
        execution = self.executions.get(str(p.get("function_execution_id") or ""))
        if execution is None:
            return None, {"ok": False, "error": "function_execution_not_found"}
        if self.token_used != self.token and self.token_used not in execution.tokens:
            return None, {"ok": False, "error": "function_execution_not_found"}  # another execution's token
        if execution.state != "running":
            return None, {"ok": False, "error": "execution_not_in_running_state"}
        return execution, {}

    def _finish(self, execution: Execution, state: str) -> None:
        execution.state = state
        execution.completed_with = "function" if self.token_used in execution.tokens else "bot"


def _wire(param: Param) -> dict[str, Any]:
    return {"type": param.type, "name": param.name, "title": param.title, "description": param.description,
            "is_required": param.required}


def _type_problem(param: Param, value: Any, users: dict[str, dict[str, Any]]) -> str | None:
    if param.type == USER:
        if not isinstance(value, str) or value not in users:
            return f"{param.name} must be a user id of this workspace"
    elif param.type in (INTEGER, TIMESTAMP):
        if not isinstance(value, int) or isinstance(value, bool):
            return f"{param.name} must be an integer"
    elif param.type == STRING and not isinstance(value, str):
        return f"{param.name} must be a string"
    return None


def _output_problems(callback_id: str, outputs: dict[str, Any], users: dict[str, dict[str, Any]]) -> list[str]:
    step = BY_ID[callback_id]
    problems = [f"{name} is not an output parameter of {callback_id}" for name in sorted(set(outputs)
                                                                                        - step.output_names())]
    for param in step.outputs:
        if outputs.get(param.name) is None:
            if param.required:
                problems.append(f"missing required output {param.name}")
            continue
        problem = _type_problem(param, outputs[param.name], users)
        if problem:
            problems.append(problem)
    return problems


def runs_shown(side: FunctionsSide, limit: int = 8) -> list[dict[str, Any]]:
    """The latest step executions as the playground's Workflows control lists them (newest first): which
    step, its state, and its outputs or error (what a workflow's next steps would see; never a token)."""
    with side._lock:
        latest = list(side.executions.values())[-limit:]
    return [{"id": e.id, "step": BY_ID[e.callback_id].title, "state": e.state,
             "inputs": dict(e.inputs), "outputs": e.outputs, "error": e.error} for e in reversed(latest)]
