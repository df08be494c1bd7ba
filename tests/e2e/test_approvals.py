"""Approvals (issue #28), over HTTP against the Slack and DataOS stand-ins: a key above the policy's
`approval_above` is asked for with a reason, posted to APPROVAL_CHANNEL with Approve and Deny, made once
when approved and delivered to the requester only; the approver and the request are checked again at the
click; expiry, the halfway reminder, Deny's reason, Cancel, `/apikey requests` and `/apikey policy`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall
from bot.reminders.governance import governance_pass
from bot.store.governance_schema import ApprovalRequest
from bot.store.schema import AuditEntry
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

GRACE, CAROL, ERIN = "U0GRACE", "U0CAROL", "U0ERIN"
APPROVALS, AUDIT = "C0APPROVE", "C0AUDIT"
POLICY = """\
[defaults]
max_validity = "365d"
approval_above = "90d"
approvers = ["admins", "S0APPROVERS"]
request_ttl = "8h"

[[rules]]
name = "contractors"
members = ["S0CONTRACT"]
max_validity = "7d"
"""
D = 24


def approval_settings(tmp_path: Path, heimdall: HeimdallEmulator) -> dict[str, Any]:
    """The policy above, with Grace as admin and #apikey-approvals (also used by the other approval tests)."""
    # DataOS users exist before the bot starts (it reads the directory then)
    heimdall.add_user("grace", "grace@example.com")
    heimdall.add_user("erin", "erin@example.com")
    (tmp_path / "policy.toml").write_text(POLICY)
    return {"policy_file": str(tmp_path / "policy.toml"), "approval_channel": APPROVALS, "audit_channel": AUDIT,
            "admin_slack_user_ids": GRACE, "validity_presets": "1d,7d,30d,90d,180d"}


@pytest.fixture
def bot_settings(tmp_path: Path, heimdall: HeimdallEmulator) -> dict[str, Any]:
    return approval_settings(tmp_path, heimdall)


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(GRACE, "grace@example.com", name="Grace")
    bot.slack.add_user(ERIN, "erin@example.com", name="Erin")
    bot.slack.add_channel(APPROVALS, "apikey-approvals")
    bot.slack.add_channel(AUDIT, "apikey-audit")
    bot.slack.add_usergroup("S0APPROVERS", "approvers", [CAROL])
    bot.slack.add_usergroup("S0CONTRACT", "contractors", [ERIN])


def options(view: dict[str, Any]) -> list[str]:
    block = next(b for b in view["blocks"] if str(b.get("block_id", "")).startswith("validity_block"))
    return [o["text"]["text"] for o in block["element"]["options"]]


def open_form(bot: Bot, user: str, text: str = "create") -> tuple[str, dict[str, Any]]:
    """`/apikey create` as `user`: the form's id and the form as it stands once fitted to their rule."""
    opened = bot.user.command_modal(text, user=user)
    view_id = view_id_of(opened)
    assert bot.server.call(bot.runtime.drain(10))
    return view_id, bot.slack.views[view_id]


def ask(bot: Bot, user: str = "U0ALICE", *, hours: int = 180 * D, reason: str | None = "nightly ETL to S3",
        name: str = "etl_loader") -> tuple[str, dict[str, Any]]:
    view_id, _ = open_form(bot, user)
    values = create_values(name, f"{hours}h")
    values["reason_block"] = {"reason": {"type": "plain_text_input", "value": reason}}
    response = bot.user.submit(view_id, values, user=user)
    assert response.status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    return view_id, response.json() if response.content.strip() else {}


def posted_request(bot: Bot, n: int = 1) -> SlackCall:
    return bot.slack.wait_for("chat.postMessage", n, where=lambda c: c.params.get("channel") == APPROVALS
                              and c.result.get("ok") is True)[n - 1]


def button(call: SlackCall, action_id: str) -> dict[str, Any]:
    return next(e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def press(bot: Bot, post: SlackCall, action_id: str, user: str) -> str:
    """Press a button on a posted message as `user`; return what that person read back (ephemeral)."""
    before = len(bot.slack.calls_to("response_url"))
    bot.user.click(action_id, button(post, action_id)["value"], user=user, channel=str(post.result["channel"]),
                   message_ts=str(post.result["ts"]), ephemeral=False)
    assert bot.server.call(bot.runtime.drain(10))
    replies = bot.slack.calls_to("response_url")[before:]
    return " ".join(text_of(c) for c in replies)


def keys_of(bot: Bot, user: str) -> dict[str, Any]:
    return dict(bot.heimdall.tokens.get(user, {}))


def deliveries(bot: Bot, user: str) -> list[SlackCall]:
    """The keys delivered to `user` (each carries its value)."""
    values = [t.apikey for tokens in bot.heimdall.tokens.values() for t in tokens.values()]
    return [c for c in bot.slack.delivered("chat.postEphemeral") if c.params.get("user") == user
            and any(v in text_of(c) for v in values)]


def updates_of(bot: Bot, post: SlackCall) -> list[str]:
    return [text_of(c) for c in bot.slack.delivered("chat.update")
            if c.params.get("ts") == post.result["ts"] and c.params.get("channel") == post.result["channel"]]


def run_pass(bot: Bot) -> None:
    bot.server.call(governance_pass(bot.runtime))
    assert bot.server.call(bot.runtime.drain(10))


# ---- the form follows the rule --------------------------------------------------------------------

def test_the_form_offers_only_the_rules_validities_and_marks_those_needing_approval(bot: Bot) -> None:
    _, form = open_form(bot, "U0ALICE")
    assert options(form) == ["1 day", "7 days", "30 days", "90 days", "180 days (needs approval)", "Custom…"]
    assert any(str(b.get("block_id", "")).startswith("reason_block") for b in form["blocks"])
    assert "Above 90 days a key needs someone's approval first" in text_of_view(form)
    _, contractor = open_form(bot, ERIN)  # the contractors' rule: at most 7 days, nothing to approve
    assert options(contractor) == ["1 day", "7 days", "Custom…"]
    assert not any(str(b.get("block_id", "")).startswith("reason_block") for b in contractor["blocks"])
    bot.user.command("policy", user=ERIN)
    said = text_of(bot.slack.wait_for("response_url")[0])
    assert "rule “contractors”" in said and "Personal keys: up to 7 days, no approval needed" in said


def text_of_view(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def test_within_the_rule_a_key_is_made_at_once_and_above_its_maximum_nothing_is(bot: Bot) -> None:
    ask(bot, hours=30 * D, reason=None, name="short_one")
    assert "short_one" in keys_of(bot, "alice")
    view_id, _ = open_form(bot, ERIN)
    bot.user.submit(view_id, create_values("too_long", "custom", custom="30d"), user=ERIN)
    assert bot.server.call(bot.runtime.drain(10))
    redrawn = text_of_view(bot.slack.views[view_id])
    assert "The longest validity your key policy allows for this key is 7 days (rule “contractors”)" in redrawn
    assert keys_of(bot, "erin") == {} and deliveries(bot, ERIN) == []


def test_a_key_that_needs_approval_needs_a_reason_first(bot: Bot) -> None:
    _, answer = ask(bot, reason=None)
    assert answer["response_action"] == "errors"
    assert "needs approval: say what it is for" in answer["errors"]["reason_block"]
    assert table_rows(bot, ApprovalRequest) == [] and keys_of(bot, "alice") == {}


# ---- approve -----------------------------------------------------------------------------------

def test_an_approved_request_is_made_once_delivered_privately_and_its_message_updated(bot: Bot) -> None:
    view_id, _ = ask(bot)
    asked = text_of_view(bot.slack.views[view_id])
    assert "Approval requested" in asked and "<@U0GRACE> or <!subteam^S0APPROVERS>" in asked
    assert f"I posted it in <#{APPROVALS}>" in asked and "arrives privately in your DM" in asked
    post = posted_request(bot)
    assert "nightly ETL to S3" in text_of(post) and "180 days" in text_of(post) and "etl_loader" in text_of(post)
    assert keys_of(bot, "alice") == {}  # nothing is made before someone approves
    said = press(bot, post, "approval_approve", GRACE)
    assert "Approved; the key goes to <@U0ALICE> privately" in said
    key = keys_of(bot, "alice")["etl_loader"]
    assert (key.expiration - bot.clock.now()).days in (179, 180)
    (delivered,) = deliveries(bot, "U0ALICE")
    assert key.apikey in text_of(delivered) and delivered.params["channel"] == "D0ALICE"
    assert any("Approved by <@U0GRACE>" in u and "key `etl_loader` created" in u for u in updates_of(bot, post))
    told = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"]
    assert any("approved your request" in t for t in told) and any("was made" in t for t in told)
    # a second click, by another approver, reads who decided; nothing more is made
    assert "already approved by <@U0GRACE>" in press(bot, post, "approval_approve", CAROL)
    assert len(keys_of(bot, "alice")) == 1 and len(deliveries(bot, "U0ALICE")) == 1
    # the key went nowhere else
    everywhere = [text_of(c) for c in bot.slack.calls if c.method != "chat.postEphemeral"]
    assert not any(key.apikey in t for t in everywhere)
    actions = [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]
    for step in [("approval request", "open"), ("approval approve", "ok"), ("create", "ok"),
                 ("approval deliver", "delivered")]:
        assert step in actions, actions
    bot.server.call(bot.runtime.keys.trail.flush())
    lines = " ".join(str(c.params.get("text")) for c in bot.slack.delivered("chat.postMessage")
                     if c.params.get("channel") == AUDIT)
    assert "approval request `etl_loader`" in lines and "approval approve `etl_loader`" in lines


def test_an_approver_who_left_the_group_is_refused_at_the_click(bot: Bot) -> None:
    ask(bot)
    post = posted_request(bot)
    bot.slack.set_usergroup_members("S0APPROVERS", [])
    bot.clock.advance(minutes=6)  # past the 5 minutes a group's members are kept
    said = press(bot, post, "approval_approve", CAROL)
    assert "Only <@U0GRACE> or <!subteam^S0APPROVERS> may decide this request" in said
    assert keys_of(bot, "alice") == {} and updates_of(bot, post) == []
    assert ("approval approve", "refused") in [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)]
    assert [r["state"] for r in table_rows(bot, ApprovalRequest)] == ["open"]


def test_nobody_approves_their_own_request(bot: Bot) -> None:
    ask(bot, user=GRACE, name="grace_key")
    post = posted_request(bot)
    assert "does not let anyone approve their own request" in press(bot, post, "approval_approve", GRACE)
    assert keys_of(bot, "grace") == {}
    assert "Approved" in press(bot, post, "approval_approve", CAROL) and "grace_key" in keys_of(bot, "grace")


def test_a_request_approved_after_its_expiry_is_refused(bot: Bot) -> None:
    ask(bot)
    post = posted_request(bot)
    bot.clock.advance(hours=8, minutes=1)
    said = press(bot, post, "approval_approve", GRACE)
    assert "This request expired" in said and "Nothing was created" in said
    assert keys_of(bot, "alice") == {}
    assert any("Expired" in u for u in updates_of(bot, post))
    told = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"]
    assert any("Nobody decided" in t for t in told)
    assert [r["state"] for r in table_rows(bot, ApprovalRequest)] == ["expired"]


def test_approvers_are_reminded_once_halfway_and_the_request_expires(bot: Bot) -> None:
    ask(bot)
    post = posted_request(bot)
    run_pass(bot)
    assert len([c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == APPROVALS]) == 1
    bot.clock.advance(hours=4, minutes=1)
    run_pass(bot)
    run_pass(bot)
    reminder = posted_request(bot, 2)
    assert "Reminder: still waiting for a decision" in text_of(reminder)
    assert len([c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == APPROVALS]) == 2
    bot.clock.advance(hours=4)
    run_pass(bot)
    for message in (post, reminder):  # both messages say so (waited for: the scheduler's pass may be the one)
        bot.slack.wait_for("chat.update", where=lambda c, m=message: c.params.get("ts") == m.result["ts"]
                           and "Expired" in text_of(c))
    told = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"]
    assert len([t for t in told if "Nobody decided" in t]) == 1
    assert keys_of(bot, "alice") == {}


# ---- deny, cancel, list ------------------------------------------------------------------------

def test_deny_asks_for_a_reason_and_the_requester_reads_it(bot: Bot) -> None:
    ask(bot)
    post = posted_request(bot)
    press(bot, post, "approval_deny", GRACE)
    form = bot.slack.wait_for("views.open", where=lambda c: c.params["view"]["callback_id"]
                              == "approval_deny_reason")[-1]
    empty = bot.user.submit(view_id_of(form), {"deny_reason_block": {"deny_reason": {"value": None}}}, user=GRACE)
    assert empty.json()["errors"]["deny_reason_block"].startswith("Say why")
    bot.user.submit(view_id_of(form), {"deny_reason_block": {"deny_reason": {"value": "30 days is <enough>"}}},
                    user=GRACE)
    assert bot.server.call(bot.runtime.drain(10))
    told = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"]
    assert any("<@U0GRACE> denied your request" in t and "30 days is &lt;enough&gt;" in t for t in told)
    assert any("Denied by <@U0GRACE>" in u for u in updates_of(bot, post))
    assert keys_of(bot, "alice") == {}
    assert "already denied by <@U0GRACE>" in press(bot, post, "approval_approve", CAROL)


def test_requests_lists_open_requests_with_cancel_and_approvers_see_what_waits(bot: Bot) -> None:
    ask(bot)
    post = posted_request(bot)
    bot.user.command("requests", user="U0ALICE")
    mine = bot.slack.wait_for("response_url")[-1]
    assert "Your open requests" in text_of(mine) and "etl_loader" in text_of(mine)
    bot.user.command("requests", user=CAROL)
    waiting = bot.slack.wait_for("response_url", 2)[-1]
    assert "Waiting for your decision" in text_of(waiting) and "approval_approve" in text_of(waiting)
    bot.user.command("requests", user="U0BOB")
    assert "Waiting for your decision" not in text_of(bot.slack.wait_for("response_url", 3)[-1])
    cancel = button(mine, "approval_cancel")
    bot.user.click("approval_cancel", cancel["value"], user="U0BOB")  # not his
    assert bot.server.call(bot.runtime.drain(10))
    assert "not one of yours" in text_of(bot.slack.calls_to("response_url")[-1])
    bot.user.click("approval_cancel", cancel["value"], user="U0ALICE")
    assert bot.server.call(bot.runtime.drain(10))
    assert "cancelled; nothing was created" in text_of(bot.slack.calls_to("response_url")[-1])
    assert any("Cancelled by <@U0ALICE>" in u for u in updates_of(bot, post))
    assert "was cancelled by <@U0ALICE>" in press(bot, post, "approval_approve", GRACE)
    assert keys_of(bot, "alice") == {}


def test_a_damaged_or_stale_button_changes_nothing(bot: Bot) -> None:
    ask(bot)
    post = posted_request(bot)
    value = json.loads(button(post, "approval_approve")["value"])
    for bad in ("", "{}", json.dumps({"r": value["r"], "n": "another_key"}), json.dumps({"r": "nope", "n": "x"})):
        bot.user.click("approval_approve", bad, user=GRACE)
        assert bot.server.call(bot.runtime.drain(10))
        said = text_of(bot.slack.calls_to("response_url")[-1])
        assert "damaged" in said or "no longer exists" in said, said
    assert keys_of(bot, "alice") == {}


# ---- the other ways a key is made: Renew, --for, and deciding from the Home tab ------------------

def test_a_renewal_that_needs_approval_revokes_the_old_key_once_the_new_one_exists(bot: Bot) -> None:
    from bot.reminders.sweep import Sweeper

    old = bot.heimdall.add_token("alice", "old_etl", hours=5 * D)
    bot.server.call(Sweeper(bot.runtime).run("discovery"))
    reminder = next(c for c in bot.slack.delivered("chat.postMessage") if "old_etl" in text_of(c)
                    and c.params.get("channel") == "U0ALICE")
    press(bot, reminder, "reminder_renew", "U0ALICE")
    form = bot.slack.wait_for("views.open", where=lambda c: c.params["view"]["callback_id"] == "renew_key")[-1]
    assert "180 days (needs approval)" in text_of(form)
    values = create_values("new_etl", f"{180 * D}h")
    values["reason_block"] = {"reason": {"type": "plain_text_input", "value": "the yearly job"}}
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "now"}}}
    bot.user.submit(view_id_of(form), values)
    assert bot.server.call(bot.runtime.drain(10))
    post = posted_request(bot)
    assert "*Renews:* `old_etl`" in text_of(post)
    assert "old_etl" in keys_of(bot, "alice") and "new_etl" not in keys_of(bot, "alice")
    press(bot, post, "approval_approve", GRACE)
    assert set(keys_of(bot, "alice")) == {"new_etl"}  # the old key went once the new one existed
    told = [text_of(c) for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == "U0ALICE"]
    assert any("The old key `old_etl` was revoked" in t for t in told)
    assert old.apikey not in " ".join(told)


def test_a_team_key_that_needs_approval_is_asked_for_the_application_user(bot: Bot) -> None:
    from bot.store.teams import Team

    bot.heimdall.add_user("etl-ingest", None, type="application")
    bot.slack.add_channel("C0TEAM", "data-eng")
    bot.server.call(bot.runtime.teams.repo.put(Team("etl-ingest", "C0TEAM", ("U0ALICE",), (), GRACE,
                                                    bot.clock.now())))
    view_id, _ = open_form(bot, "U0ALICE", "create --for etl-ingest")
    values = create_values("etl_writer", f"{180 * D}h")
    values["reason_block"] = {"reason": {"type": "plain_text_input", "value": "writes the lake"}}
    values["for_block"] = {"for": {"type": "static_select", "selected_option": {"value": "etl-ingest"}}}
    bot.user.submit(view_id, values)
    assert bot.server.call(bot.runtime.drain(10))
    post = posted_request(bot)
    assert "application user `etl-ingest`" in text_of(post)
    assert keys_of(bot, "etl-ingest") == {}
    press(bot, post, "approval_approve", GRACE)
    key = keys_of(bot, "etl-ingest")["etl_writer"]
    assert len(deliveries(bot, "U0ALICE")) == 1 and key.apikey in text_of(deliveries(bot, "U0ALICE")[0])
    line = [str(c.params.get("text")) for c in bot.slack.delivered("chat.postMessage")
            if c.params.get("channel") == "C0TEAM"]
    assert any("created `etl_writer` for etl-ingest" in t and "approved by <@U0GRACE>" in t for t in line)
    assert not any(key.apikey in t for t in line)


def test_approvers_see_what_waits_for_them_on_the_home_tab_and_decide_there(bot: Bot) -> None:
    ask(bot)
    bot.user.event({"type": "app_home_opened", "user": CAROL, "tab": "home"}, event_id="EvHome1")
    home = bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == CAROL)[-1]
    assert "Waiting for your decision" in text_of(home) and "etl_loader" in text_of(home)
    value = next(e["value"] for b in home.params["view"]["blocks"] if b["type"] == "actions"
                 for e in b["elements"] if e["action_id"] == "approval_approve")
    before = len(bot.slack.calls_to("views.publish"))
    bot.user.click("approval_approve", value, user=CAROL, view_id=f"VHOME{CAROL}")
    assert bot.server.call(bot.runtime.drain(10))
    assert "etl_loader" in keys_of(bot, "alice")
    redrawn = bot.slack.calls_to("views.publish")[before:]
    assert any("Approved; the key goes to <@U0ALICE> privately" in text_of(c) for c in redrawn)
    bot.user.event({"type": "app_home_opened", "user": "U0ALICE", "tab": "home"}, event_id="EvHome2")
    mine = bot.slack.wait_for("views.publish", where=lambda c: c.params.get("user_id") == "U0ALICE")[-1]
    assert "Waiting for your decision" not in text_of(mine) and "Your open requests" not in text_of(mine)
