"""Workflow Builder steps (issue #29), over HTTP against the Slack and DataOS stand-ins: "Create a DataOS API
key" makes the key for the person and sends it to them only, its outputs are the name and expiry; "List keys
that expire soon" counts and lists names and dates. Each fails with the slash command's sentence (the person
is told), an execution Slack delivers twice is handled once, and the key never reaches the workflow."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.playground.slack.functions import Execution
from bot.slack.workflows.definitions import CREATE_KEY, LIST_EXPIRING
from tests.e2e.conftest import Bot
from tests.e2e.harness import text_of
from tests.e2e.workflow import completions, create_for, deliver, press_in_step, run_step, step_message, with_token


def keys_of(bot: Bot, user: str) -> dict[str, object]:
    return dict(bot.heimdall.tokens.get(user, {}))


def dms_to(bot: Bot, user: str) -> list[str]:
    return [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == user]


def private_deliveries(bot: Bot, user: str) -> list[str]:
    values = [t.apikey for tokens in bot.heimdall.tokens.values() for t in tokens.values()]
    return [text_of(c) for c in bot.slack.delivered("chat.postEphemeral")
            if c.params.get("user") == user and any(v in text_of(c) for v in values)]


def assert_no_secret_in_workflow(bot: Bot, execution: Execution) -> None:
    """Nothing the workflow can see (its outputs, its error, any call made with its token) holds a key."""
    values = [t.apikey for tokens in bot.heimdall.tokens.values() for t in tokens.values()]
    seen = json.dumps([execution.outputs, execution.error]) + "".join(
        text_of(c) for c in with_token(bot, execution.token) + completions(bot, execution))
    assert values and not any(v in seen for v in values)


def test_create_step_makes_the_key_delivers_it_to_the_person_only_and_outputs_name_and_expiry(bot: Bot) -> None:
    execution = run_step(bot, CREATE_KEY, person="U0ALICE", name="onboarding_key", validity="30d")
    asked = step_message(bot, execution)  # nobody gets a key they did not ask for: she is asked first
    assert asked.params["channel"] == "D0ALICE" and "`onboarding_key`, valid for 30 days" in text_of(asked)
    assert execution.state == "running" and keys_of(bot, "alice") == {}
    press_in_step(bot, execution, "workflow_create_confirm", "U0ALICE")
    assert execution.state == "completed", execution.error
    key = keys_of(bot, "alice")["onboarding_key"]
    assert execution.outputs == {"key_name": "onboarding_key", "expires_at": int(key.expiration.timestamp())}
    assert (key.expiration - bot.clock.now()).days in (29, 30)
    (delivered,) = private_deliveries(bot, "U0ALICE")
    assert key.apikey in delivered and '"channel": "D0ALICE"' in delivered  # ephemeral, in her DM with the bot
    assert execution.completed_with == "function"  # the step's own tokens, for its own calls only
    own_calls = [c for token in execution.tokens for c in with_token(bot, token)]
    assert {c.method for c in own_calls} == {"conversations.open", "chat.postMessage", "chat.update",
                                             "functions.completeSuccess"}
    assert "Created `onboarding_key`" in text_of(bot.slack.delivered("chat.update")[-1])
    assert_no_secret_in_workflow(bot, execution)
    assert not any(key.apikey in text_of(c) for c in bot.slack.calls if c.method != "chat.postEphemeral")


def test_create_step_without_name_or_validity_uses_the_defaults(bot: Bot) -> None:
    execution = create_for(bot, "U0BOB")
    assert execution.state == "completed", execution.error
    (name,) = keys_of(bot, "bob")
    assert execution.outputs is not None and execution.outputs["key_name"] == name
    assert len(private_deliveries(bot, "U0BOB")) == 1


def test_create_step_for_an_unmapped_person_fails_with_the_commands_sentence_and_tells_them(bot: Bot) -> None:
    execution = run_step(bot, CREATE_KEY, person="U0DAVE")  # dave@elsewhere.org: no DataOS user
    assert execution.state == "failed" and execution.outputs is None
    bot.user.command("create", user="U0DAVE")  # what `/apikey create` says to him: the same sentence
    said = text_of(bot.slack.wait_for("views.update")[0])
    assert execution.error and json.dumps(execution.error, ensure_ascii=False)[1:-1] in said, (execution.error, said)
    (told,) = dms_to(bot, "U0DAVE")
    assert "A workflow asked me to create a DataOS API key for you" in told
    assert bot.heimdall.tokens.get("dave") in (None, {})


def test_create_step_refused_by_the_policy_or_with_dataos_down_fails_and_makes_nothing(bot: Bot) -> None:
    too_long = run_step(bot, CREATE_KEY, person="U0ALICE", validity="5000d")
    assert too_long.state == "failed" and too_long.error is not None and "The longest validity" in too_long.error
    (told,) = dms_to(bot, "U0ALICE")
    assert "The longest validity" in told
    down = run_step(bot, CREATE_KEY, person="U0ALICE", name="while_down", validity="7d")
    bot.heimdall.error_rate = 1.0
    press_in_step(bot, down, "workflow_create_confirm", "U0ALICE")
    bot.heimdall.error_rate = 0.0
    assert down.state == "failed" and down.error is not None and "DataOS" in down.error
    assert "while_down" not in keys_of(bot, "alice") and private_deliveries(bot, "U0ALICE") == []
    # she reads why where she pressed: her confirmation now says it
    assert json.dumps(down.error)[1:-1] in text_of(bot.slack.delivered("chat.update")[-1])


def test_a_function_executed_slack_delivers_again_is_handled_once(bot: Bot) -> None:
    execution, body = bot.slack.run_function(CREATE_KEY, {"person": "U0ALICE", "name": "once_only"})
    deliver(bot, body)
    deliver(bot, body, retry=1)  # Slack's retry: the same event again
    deliver(bot, body, event_id="EvOTHER0001")  # the same execution under another event id
    asked = [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "D0ALICE"]
    assert len(asked) == 1  # asked once
    press_in_step(bot, execution, "workflow_create_confirm", "U0ALICE")
    press_in_step(bot, execution, "workflow_create_confirm", "U0ALICE")  # a double click
    assert execution.state == "completed"
    assert len(completions(bot, execution)) == 1
    assert list(keys_of(bot, "alice")) == ["once_only"] and len(private_deliveries(bot, "U0ALICE")) == 1


def test_the_person_may_decline_and_nobody_else_may_answer_for_them(bot: Bot) -> None:
    execution = run_step(bot, CREATE_KEY, person="U0ALICE", name="not_wanted")
    press_in_step(bot, execution, "workflow_create_confirm", "U0BOB")  # not hers to press: ignored
    assert execution.state == "running" and keys_of(bot, "alice") == {}
    press_in_step(bot, execution, "workflow_create_decline", "U0ALICE")
    assert execution.state == "failed" and execution.error == "<@U0ALICE> chose not to have the key. Nothing was " \
        "created."
    assert keys_of(bot, "alice") == {} and "nothing was created" in text_of(bot.slack.delivered("chat.update")[-1])


def test_who_she_is_is_checked_again_at_the_click(bot: Bot) -> None:
    execution = run_step(bot, CREATE_KEY, person="U0ALICE", name="checked_again", validity="30d")
    bot.slack.users["U0ALICE"]["deleted"] = True  # deactivated between the question and the answer
    bot.clock.advance(seconds=bot.runtime.settings.slack_profile_ttl_seconds + 1)  # what the bot knew of her ages
    press_in_step(bot, execution, "workflow_create_confirm", "U0ALICE")
    assert execution.state == "failed"
    assert "checked_again" not in keys_of(bot, "alice")


def test_list_step_counts_and_lists_names_and_dates_of_keys_expiring_within_the_days(bot: Bot) -> None:
    now = bot.clock.now()
    bot.heimdall.add_token("alice", "soon_one", expiration=now + timedelta(days=3))
    bot.heimdall.add_token("alice", "soon_two", expiration=now + timedelta(days=10))
    bot.heimdall.add_token("alice", "later_one", expiration=now + timedelta(days=90))
    execution = run_step(bot, LIST_EXPIRING, person="U0ALICE", within=14)
    assert execution.state == "completed", execution.error
    assert execution.outputs is not None and execution.outputs["count"] == 2
    text = execution.outputs["keys_text"]
    assert text.index("soon_one") < text.index("soon_two") and "later_one" not in text and "in 3 days" in text
    assert_no_secret_in_workflow(bot, execution)
    none = run_step(bot, LIST_EXPIRING, person="U0BOB", within=7)
    assert none.outputs == {"count": 0, "keys_text": "No key of <@U0BOB> expires within 7 days."}


def test_list_step_needs_one_of_person_or_app_user_and_sensible_days(bot: Bot) -> None:
    neither = run_step(bot, LIST_EXPIRING, within=7)
    assert neither.state == "failed" and neither.error is not None and "either a person or an application user" \
        in neither.error
    zero = run_step(bot, LIST_EXPIRING, person="U0ALICE", within=0)
    assert zero.state == "failed" and zero.error is not None and "number of days" in zero.error
    unmapped = run_step(bot, LIST_EXPIRING, person="U0DAVE", within=7)
    assert unmapped.state == "failed"


def test_a_malformed_function_executed_is_refused_and_changes_nothing(bot: Bot) -> None:
    execution, body = bot.slack.run_function(CREATE_KEY, {"person": "U0ALICE"})
    for n, broken in enumerate(({k: v for k, v in body["event"].items() if k != "function_execution_id"},
                                dict(body["event"], inputs={"person": {"id": "U0ALICE"}}),
                                dict(body["event"], bot_access_token=""))):
        response = bot.user.post(json.dumps(dict(body, event=broken, event_id=f"EvBAD{n}")), "application/json")
        assert response.status_code == 400
    assert bot.server.call(bot.runtime.drain(10))
    assert execution.state == "running" and completions(bot, execution) == []
    assert not [c for c in bot.slack.calls if c.method in ("chat.postMessage", "conversations.open")]
