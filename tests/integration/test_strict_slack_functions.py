"""The Slack stand-in runs Workflow Builder steps as Slack does, over HTTP, through slack_sdk's own client:
an execution completes once, only with its declared outputs; its function token works while it runs (and at
most 15 minutes), then is refused like any unknown token; the bot's own token may complete it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.playground.slack import SlackFake
from bot.playground.slack.functions import FUNCTION_TOKEN_SECONDS
from bot.slack.workflows.definitions import CREATE_KEY, LIST_EXPIRING
from tests.conftest import FakeClock


@pytest.fixture
def expecting(slack: SlackFake) -> Iterator[SlackFake]:
    yield slack
    slack.expect_refusals("parameter_validation_failed", "execution_not_in_running_state", "invalid_arguments")


def refused(call: Any) -> str:
    with pytest.raises(SlackApiError) as caught:
        call()
    return str(caught.value.response["error"])


def client(slack: SlackFake, token: str) -> WebClient:
    return WebClient(token=token, base_url=slack.api_url)


def test_the_event_carries_inputs_an_execution_id_and_a_function_token(expecting: SlackFake) -> None:
    execution, body = expecting.run_function(CREATE_KEY, {"person": "U0ALICE"})
    event = body["event"]
    assert body["type"] == "event_callback" and event["type"] == "function_executed"
    assert event["function"]["callback_id"] == CREATE_KEY and event["inputs"] == {"person": "U0ALICE"}
    assert event["function_execution_id"] == execution.id and event["bot_access_token"].startswith("xwfp-")
    with pytest.raises(ValueError, match="needs its input"):
        expecting.run_function(CREATE_KEY, {})
    with pytest.raises(ValueError, match="user id"):
        expecting.run_function(CREATE_KEY, {"person": "U0NOBODY"})


def test_an_execution_completes_once_and_its_token_dies_with_it(expecting: SlackFake) -> None:
    execution, _ = expecting.run_function(CREATE_KEY, {"person": "U0ALICE"})
    own = client(expecting, execution.token)
    assert own.auth_test()["ok"]  # the function token works while the step runs
    own.functions_completeSuccess(function_execution_id=execution.id,
                                  outputs={"key_name": "k", "expires_at": 1800000000})
    assert execution.state == "completed" and execution.completed_with == "function"
    assert refused(lambda: own.auth_test()) == "invalid_auth"
    bot = client(expecting, expecting.token)
    assert refused(lambda: bot.functions_completeError(function_execution_id=execution.id, error="again")) == \
        "execution_not_in_running_state"
    assert refused(lambda: bot.functions_completeError(function_execution_id="FxNOPE", error="x")) == \
        "function_execution_not_found"


def test_outputs_must_be_the_declared_ones(expecting: SlackFake) -> None:
    execution, _ = expecting.run_function(LIST_EXPIRING, {"person": "U0ALICE", "within": 7})
    bot = client(expecting, expecting.token)
    for outputs in ({"count": 1}, {"count": 1, "keys_text": "x", "secret": "dG9r"}, {"count": "1", "keys_text": "x"}):
        assert refused(lambda o=outputs: bot.functions_completeSuccess(function_execution_id=execution.id,
                                                                        outputs=o)) == "parameter_validation_failed"
    assert execution.state == "running"
    bot.functions_completeSuccess(function_execution_id=execution.id, outputs={"count": 1, "keys_text": "x"})
    assert execution.state == "completed" and execution.completed_with == "bot"


def test_a_function_token_lives_at_most_fifteen_minutes(expecting: SlackFake, clock: FakeClock) -> None:
    execution, _ = expecting.run_function(CREATE_KEY, {"person": "U0ALICE"})
    other, _ = expecting.run_function(CREATE_KEY, {"person": "U0BOB"})
    # another execution's token cannot complete this one
    assert refused(lambda: client(expecting, other.token).functions_completeError(
        function_execution_id=execution.id, error="x")) == "function_execution_not_found"
    clock.advance(seconds=FUNCTION_TOKEN_SECONDS + 1)
    assert refused(lambda: client(expecting, execution.token).functions_completeError(
        function_execution_id=execution.id, error="late")) == "invalid_auth"
    assert execution.state == "running"
