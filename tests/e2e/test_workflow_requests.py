"""The Workflow Builder step "Request a key for an application user" (issue #29), over HTTP against the
stand-ins: the requester must own the application user's team; a key the policy lets them have is made at
once; one that needs approval waits for the approval buttons and completes when approved (the key made once
and sent to the requester only) or denied; the wait survives a restart of the bot, and the completion,
sent with the bot's own token once the function's token is gone, happens exactly once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall, SlackFake
from bot.playground.slack.functions import FUNCTION_TOKEN_SECONDS, Execution
from bot.reminders.governance import governance_pass
from bot.slack.workflows.definitions import LIST_EXPIRING, REQUEST_APP_KEY
from bot.store.teams import Team
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import BotServer, make_settings, running_bot, text_of, view_id_of
from tests.e2e.test_approvals import APPROVALS, GRACE, approval_settings
from tests.e2e.workflow import completions, run_step, with_token

APP, TEAM_CHANNEL = "etl-ingest", "C0TEAM"
ALICE, BOB = "U0ALICE", "U0BOB"


@pytest.fixture
def bot_settings(tmp_path: Path, heimdall: HeimdallEmulator) -> dict[str, Any]:
    return approval_settings(tmp_path, heimdall)


def world(slack: SlackFake, heimdall: HeimdallEmulator) -> None:
    slack.add_user(GRACE, "grace@example.com", name="Grace")
    slack.add_channel(APPROVALS, "apikey-approvals")
    slack.add_channel(TEAM_CHANNEL, "data-eng")
    slack.add_usergroup("S0APPROVERS", "approvers", [])
    slack.add_usergroup("S0CONTRACT", "contractors", [])
    heimdall.add_user(APP, None, type="application", tags=["roles:id:app-user", f"users:id:{APP}"])


def make_team(server: BotServer, clock: FakeClock) -> None:
    server.call(server.runtime.teams.repo.put(Team(APP, TEAM_CHANNEL, (ALICE,), (), GRACE, clock.now())))


@pytest.fixture(autouse=True)
def team(bot: Bot) -> None:
    world(bot.slack, bot.heimdall)
    make_team(bot.server, bot.clock)


def posted_request(slack: SlackFake) -> SlackCall:
    return slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == APPROVALS
                          and c.result.get("ok") is True)[0]


def press(server: BotServer, user: Any, post: SlackCall, action_id: str, clicker: str) -> None:
    value = next(e["value"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == action_id)
    user.click(action_id, value, user=clicker, channel=str(post.result["channel"]),
               message_ts=str(post.result["ts"]), ephemeral=False)
    assert server.call(server.runtime.drain(10))


def app_keys(heimdall: HeimdallEmulator) -> dict[str, Any]:
    return dict(heimdall.tokens.get(APP, {}))


def private_to(slack: SlackFake, heimdall: HeimdallEmulator, user: str) -> list[SlackCall]:
    values = [t.apikey for tokens in heimdall.tokens.values() for t in tokens.values()]
    return [c for c in slack.delivered("chat.postEphemeral") if c.params.get("user") == user
            and any(v in text_of(c) for v in values)]


def nothing_secret_reached_the_workflow(slack: SlackFake, heimdall: HeimdallEmulator, execution: Execution) -> bool:
    values = [t.apikey for tokens in heimdall.tokens.values() for t in tokens.values()]
    seen = json.dumps([execution.outputs, execution.error]) + "".join(
        text_of(c) for c in with_token(slack, execution.token) + completions(slack, execution))
    return not any(v in seen for v in values)


def ask(bot: Bot, validity: str = "180d", requester: str = ALICE) -> Execution:
    return run_step(bot, REQUEST_APP_KEY, app_user=APP, requester=requester, validity=validity,
                    reason="nightly loads into the lake")


def test_a_key_within_the_policy_is_made_at_once_for_the_requester_only(bot: Bot) -> None:
    execution = ask(bot, "30d")
    assert execution.state == "completed", execution.error
    (name,) = app_keys(bot.heimdall)
    assert execution.outputs == {"decision": "approved", "key_name": name}
    (delivered,) = private_to(bot.slack, bot.heimdall, ALICE)
    assert app_keys(bot.heimdall)[name].apikey in text_of(delivered)
    lines = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == TEAM_CHANNEL]
    assert any(f"created `{name}` for {APP}" in t for t in lines)
    assert nothing_secret_reached_the_workflow(bot.slack, bot.heimdall, execution)


def test_someone_who_does_not_own_the_team_is_refused_and_nothing_is_asked(bot: Bot) -> None:
    execution = ask(bot, "180d", requester=BOB)
    assert execution.state == "failed" and execution.error is not None
    assert f"The keys of `{APP}` belong to its team" in execution.error
    assert app_keys(bot.heimdall) == {}
    assert all(c.params.get("channel") != APPROVALS for c in bot.slack.calls_to("chat.postMessage"))
    assert any("A workflow asked for a DataOS key on your behalf" in text_of(c)
               for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == BOB)


def test_a_request_that_needs_approval_waits_and_completes_once_approved(bot: Bot) -> None:
    execution = ask(bot)
    assert execution.state == "running" and app_keys(bot.heimdall) == {}
    post = posted_request(bot.slack)
    assert "nightly loads into the lake" in text_of(post) and APP in text_of(post)
    told = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == ALICE]
    assert any("A workflow asked, for you, for a key of 180 days" in t for t in told)
    bot.clock.advance(seconds=FUNCTION_TOKEN_SECONDS + 60)  # the approver takes their time: the token is gone
    press(bot.server, bot.user, post, "approval_approve", GRACE)
    (name,) = app_keys(bot.heimdall)
    assert execution.state == "completed", execution.error
    assert execution.outputs == {"decision": "approved", "decided_by": GRACE, "key_name": name}
    assert execution.completed_with == "bot"  # the function's token was never kept
    assert len(completions(bot.slack, execution)) == 1
    assert len(private_to(bot.slack, bot.heimdall, ALICE)) == 1
    assert nothing_secret_reached_the_workflow(bot.slack, bot.heimdall, execution)
    run_pass(bot.server)  # a later governance pass completes nothing again
    assert len(completions(bot.slack, execution)) == 1


def test_a_request_that_needs_approval_needs_a_reason(bot: Bot) -> None:
    execution = run_step(bot, REQUEST_APP_KEY, app_user=APP, requester=ALICE, validity="180d")
    assert execution.state == "failed" and execution.error == ("A reason is needed: the approvers read it. Nothing "
                                                               "was requested.")
    assert all(c.params.get("channel") != APPROVALS for c in bot.slack.calls_to("chat.postMessage"))


def test_a_denied_request_completes_with_the_decision_and_makes_nothing(bot: Bot) -> None:
    execution = ask(bot)
    post = posted_request(bot.slack)
    press(bot.server, bot.user, post, "approval_deny", GRACE)
    form = bot.slack.wait_for("views.open", where=lambda c: c.params["view"]["callback_id"]
                              == "approval_deny_reason")[-1]
    bot.user.submit(view_id_of(form), {"deny_reason_block": {"deny_reason": {"value": "use 30 days"}}}, user=GRACE)
    assert bot.server.call(bot.runtime.drain(10))
    assert execution.state == "completed" and execution.outputs == {"decision": "denied", "decided_by": GRACE}
    assert app_keys(bot.heimdall) == {} and private_to(bot.slack, bot.heimdall, ALICE) == []


def run_pass(server: BotServer) -> None:
    server.call(governance_pass(server.runtime))
    assert server.call(server.runtime.drain(10))


def test_a_completion_slack_refuses_for_a_moment_is_sent_again_once_by_the_governance_pass(bot: Bot) -> None:
    execution = ask(bot)
    post = posted_request(bot.slack)
    bot.slack.fail("functions.completeSuccess", "service_unavailable", status=503)  # answered: not taken
    press(bot.server, bot.user, post, "approval_approve", GRACE)
    assert execution.state == "running" and len(app_keys(bot.heimdall)) == 1
    run_pass(bot.server)
    assert execution.state == "completed" and execution.outputs is not None
    assert execution.outputs["decision"] == "approved"
    run_pass(bot.server)
    assert len([c for c in completions(bot.slack, execution) if c.result.get("ok")]) == 1
    assert len(private_to(bot.slack, bot.heimdall, ALICE)) == 1


def test_an_expired_request_completes_the_step_with_expired(bot: Bot) -> None:
    execution = ask(bot)
    bot.clock.advance(hours=9)  # request_ttl is 8 h
    run_pass(bot.server)
    assert execution.state == "completed" and execution.outputs == {"decision": "expired"}
    assert app_keys(bot.heimdall) == {}


def test_the_wait_survives_a_restart_and_the_step_completes_once(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path) -> None:
    world(slack, heimdall)
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), **approval_settings(tmp_path, heimdall))
    with running_bot(settings, clock, slack) as (one, user):
        make_team(one, clock)
        execution, body = slack.run_function(REQUEST_APP_KEY, {
            "app_user": APP, "requester": ALICE, "validity": "180d", "reason": "nightly loads"})
        response = user.post(json.dumps(body), "application/json")
        assert response.status_code == 200 and one.call(one.runtime.drain(10))
        post = posted_request(slack)
    assert execution.state == "running"
    clock.advance(minutes=20)
    with running_bot(settings, clock, slack) as (two, user):  # a new process, the same database
        press(two, user, post, "approval_approve", GRACE)
        response = user.post(json.dumps(body), "application/json", headers={"X-Slack-Retry-Num": "1"})
        assert response.status_code == 200 and two.call(two.runtime.drain(10))  # a late retry: nothing again
    (name,) = app_keys(heimdall)
    assert execution.state == "completed" and execution.outputs == {
        "decision": "approved", "decided_by": GRACE, "key_name": name}
    assert len(completions(slack, execution)) == 1 and len(private_to(slack, heimdall, ALICE)) == 1
    assert nothing_secret_reached_the_workflow(slack, heimdall, execution)
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("bot.db*"))  # the database and its write-ahead log
    assert execution.id.encode() in stored and b"xwfp-" not in stored  # the execution is kept, never its token


def test_list_step_for_an_application_user_needs_an_owner_of_its_team(bot: Bot) -> None:
    bot.heimdall.add_token(APP, "loader_key", expiration=bot.clock.now() + timedelta(days=2))
    listed = run_step(bot, LIST_EXPIRING, app_user=APP, requester=ALICE, within=7)
    assert listed.state == "completed" and listed.outputs is not None and listed.outputs["count"] == 1
    assert "loader_key" in listed.outputs["keys_text"]
    refused = run_step(bot, LIST_EXPIRING, app_user=APP, requester=BOB, within=7)
    assert refused.state == "failed" and refused.error is not None and "belong to its team" in refused.error
    anonymous = run_step(bot, LIST_EXPIRING, app_user=APP, within=7)
    assert anonymous.state == "failed"
