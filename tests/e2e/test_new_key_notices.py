""""Was this you?" (issue #28), over HTTP against the stand-ins: the discovery tells a key's owner about a
key the bot did not make, once, one message per owner; the keys there when the feature first runs are a
baseline; a key the bot made (or is making, on any replica) is never told; That was me and Revoke it act on
the exact key for whoever answers for it; unanswered notices reach the audit channel once."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.playground.slack import SlackCall
from bot.reminders.governance import governance_pass
from bot.reminders.sweep import Sweeper
from bot.store.governance_schema import KeyNotice, NoticeOwner
from bot.store.schema import AuditEntry
from bot.store.teams import Team
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, table_rows, text_of, view_id_of

GRACE, AUDIT, APP, TEAM_CHANNEL = "U0GRACE", "C0AUDIT", "etl-ingest", "C0DATAENG"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"audit_channel": AUDIT, "admin_slack_user_ids": GRACE, "notice_new_keys": True}


@pytest.fixture(autouse=True)
def world(bot: Bot) -> None:
    bot.slack.add_user(GRACE, "grace@example.com", name="Grace")
    bot.heimdall.add_user("grace", "grace@example.com")
    bot.slack.add_channel(AUDIT, "apikey-audit")
    bot.slack.add_channel(TEAM_CHANNEL, "data-eng")
    bot.heimdall.add_token("alice", "old_key", hours=24 * 30)  # there before the feature: the baseline


def discover(bot: Bot) -> Any:
    summary = bot.server.call(Sweeper(bot.runtime).run("discovery"))
    assert bot.server.call(bot.runtime.drain(10))
    return summary


def notices_to(bot: Bot, channel: str) -> list[SlackCall]:
    return [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == channel
            and "Was this you?" in text_of(c)]


def press(bot: Bot, post: SlackCall, action_id: str, user: str, key: str) -> str:
    value = next(e["value"] for b in post.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == action_id and json.loads(e["value"])["k"] == key)
    before = len(bot.slack.calls_to("response_url"))
    bot.user.click(action_id, value, user=user, channel=str(post.result["channel"]), message_ts=str(post.result["ts"]),
                   ephemeral=False)
    assert bot.server.call(bot.runtime.drain(10))
    return " ".join(text_of(c) for c in bot.slack.calls_to("response_url")[before:])


def told_rows(bot: Bot) -> dict[str, str]:
    return {r["key_name"]: r["state"] for r in table_rows(bot, KeyNotice) if r["state"] not in ("baseline", "bot")}


def updates_of(bot: Bot, post: SlackCall) -> list[str]:
    return [text_of(c) for c in bot.slack.delivered("chat.update") if c.params.get("ts") == post.result["ts"]]


def test_the_first_discovery_is_a_baseline_and_a_later_key_made_elsewhere_is_told_once(bot: Bot) -> None:
    discover(bot)
    assert notices_to(bot, "U0ALICE") == []  # old_key was there when the feature first ran
    assert [r["dataos_user_id"] for r in table_rows(bot, NoticeOwner) if r["dataos_user_id"] == "alice"] == ["alice"]
    key = bot.heimdall.add_token("alice", "made_in_the_ui", hours=24 * 90)
    bot.clock.advance(hours=1)
    summary = discover(bot)
    (notice,) = notices_to(bot, "U0ALICE")
    said = text_of(notice)
    assert "`made_in_the_ui` (valid until" in said and "was created outside Slack, first seen" in said
    assert "old_key" not in said and key.apikey not in said
    assert "That was me" in said and "Revoke it" in said and summary.notices == 1
    discover(bot)  # told once
    assert len(notices_to(bot, "U0ALICE")) == 1


def test_a_key_the_bot_made_or_is_making_is_never_told(bot: Bot) -> None:
    discover(bot)
    opened = bot.user.command_modal("create")
    assert bot.server.call(bot.runtime.drain(10))
    bot.user.submit(view_id_of(opened), create_values("from_slack", "720h"))
    assert bot.server.call(bot.runtime.drain(10))
    assert "from_slack" in bot.heimdall.tokens["alice"]
    # another replica is making `racing` right now: its claim names the key before DataOS has it
    rt = bot.runtime
    assert bot.server.call(rt.idempotency.claim_idempotency("V9:h", "alice", bot.clock.now(), key_name="racing"))
    bot.heimdall.add_token("alice", "racing", hours=24)
    discover(bot)
    assert notices_to(bot, "U0ALICE") == []
    states = {r["key_name"]: r["state"] for r in table_rows(bot, KeyNotice)}
    assert states["racing"] == "bot" and states["old_key"] == "baseline"
    assert "from_slack" not in states  # the record (key_sightings.created_at) said so before any lookup


def test_several_new_keys_of_one_owner_in_one_discovery_are_one_message(bot: Bot) -> None:
    discover(bot)
    for name in ("ui_one", "ui_two", "ui_three"):
        bot.heimdall.add_token("alice", name, hours=48)
    bot.heimdall.add_token("bob", "bobs_ui_key", hours=48)
    discover(bot)
    (to_alice,) = notices_to(bot, "U0ALICE")
    assert "3 new DataOS API keys were created outside Slack" in text_of(to_alice)
    assert all(n in text_of(to_alice) for n in ("ui_one", "ui_two", "ui_three")) and "bobs_ui_key" not in text_of(
        to_alice)
    (to_bob,) = notices_to(bot, "U0BOB")
    assert "bobs_ui_key" in text_of(to_bob)


def test_that_was_me_and_revoke_it_act_on_the_exact_key_for_its_owner_only(bot: Bot) -> None:
    discover(bot)
    bot.heimdall.add_token("alice", "mine_really", hours=48)
    bot.heimdall.add_token("alice", "not_mine", hours=48)
    discover(bot)
    (post,) = notices_to(bot, "U0ALICE")
    assert "Only the key's owner" in press(bot, post, "notice_mine", "U0BOB", "mine_really")
    assert "is yours" in press(bot, post, "notice_mine", "U0ALICE", "mine_really")
    assert any("<@U0ALICE> said this key is theirs" in u for u in updates_of(bot, post))
    said = press(bot, post, "notice_revoke", "U0ALICE", "not_mine")
    assert "revoked" in said and "not_mine" not in bot.heimdall.tokens["alice"]
    assert "mine_really" in bot.heimdall.tokens["alice"]
    assert any("Revoked by <@U0ALICE>" in u for u in updates_of(bot, post))
    assert "already answered" in press(bot, post, "notice_revoke", "U0ALICE", "mine_really")
    assert "mine_really" in bot.heimdall.tokens["alice"]
    actions = [(r["action"], r["outcome"], r["key_name"]) for r in table_rows(bot, AuditEntry)]
    assert ("notice mine", "ok", "mine_really") in actions and ("revoke", "ok", "not_mine") in actions


def test_an_unanswered_notice_is_one_line_in_the_audit_channel_after_a_day(bot: Bot) -> None:
    discover(bot)
    bot.heimdall.add_token("alice", "silent_key", hours=24 * 10)
    discover(bot)
    bot.clock.advance(hours=23)
    bot.server.call(governance_pass(bot.runtime))
    bot.server.call(bot.runtime.keys.trail.flush())

    def lines() -> list[str]:
        return [str(c.params.get("text")) for c in bot.slack.delivered("chat.postMessage")
                if c.params.get("channel") == AUDIT and "Nobody answered" in str(c.params.get("text"))]

    assert lines() == []
    bot.clock.advance(hours=2)
    bot.server.call(governance_pass(bot.runtime))
    bot.server.call(governance_pass(bot.runtime))
    bot.server.call(bot.runtime.keys.trail.flush())
    (line,) = lines()
    assert "`silent_key`" in line and "<@U0ALICE>" in line and "within 1 day" in line


def test_an_application_users_new_key_goes_to_its_team_channel_or_to_the_admins(bot: Bot) -> None:
    bot.heimdall.add_user(APP, None, type="application")
    bot.heimdall.add_user("lonely-app", None, type="application")
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, TEAM_CHANNEL, ("U0ALICE",), (), GRACE, bot.clock.now())))
    bot.clock.advance(minutes=2)  # the discovery reads the DataOS directory afresh: it has the new users
    discover(bot)
    bot.heimdall.add_token(APP, "ingest_from_ui", hours=48)
    bot.heimdall.add_token("lonely-app", "orphan_from_ui", hours=48)
    discover(bot)
    (in_channel,) = notices_to(bot, TEAM_CHANNEL)
    assert "ingest_from_ui" in text_of(in_channel) and "application user `etl-ingest`" in text_of(in_channel)
    (to_admin,) = notices_to(bot, GRACE)
    assert "orphan_from_ui" in text_of(to_admin) and "has no team" in text_of(to_admin)
    assert "belong to its team" in press(bot, in_channel, "notice_mine", "U0BOB", "ingest_from_ui")
    assert "is yours" in press(bot, in_channel, "notice_mine", "U0ALICE", "ingest_from_ui")
    assert "only platform admins" in press(bot, to_admin, "notice_revoke", "U0ALICE", "orphan_from_ui")
    assert "revoked" in press(bot, to_admin, "notice_revoke", GRACE, "orphan_from_ui")
    assert "orphan_from_ui" not in bot.heimdall.tokens.get("lonely-app", {})


def test_a_notice_slack_refused_for_now_is_told_by_the_next_discovery_and_a_lost_one_never_again(
        bot: Bot) -> None:
    discover(bot)
    bot.heimdall.add_token("alice", "try_again", hours=48)
    bot.slack.fail("chat.postMessage", "service_unavailable", status=503)
    discover(bot)
    assert notices_to(bot, "U0ALICE") == [] and "try_again" not in told_rows(bot)
    discover(bot)
    assert len(notices_to(bot, "U0ALICE")) == 1
    bot.heimdall.add_token("alice", "answer_lost", hours=48)
    bot.slack.lose_answer("chat.postMessage")  # Slack takes it; the bot never hears back
    discover(bot)
    discover(bot)
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if "answer_lost" in text_of(c)]) == 1
    assert told_rows(bot)["answer_lost"] == "unknown"


def test_notices_off_tell_nothing_and_turned_on_again_start_from_a_new_baseline(bot: Bot) -> None:
    discover(bot)
    settings = bot.runtime.settings
    settings.notice_new_keys = False  # as a restart with NOTICE_NEW_KEYS=false would have it
    bot.heimdall.add_token("alice", "while_off", hours=48)
    discover(bot)
    assert notices_to(bot, "U0ALICE") == [] and table_rows(bot, NoticeOwner) == []
    settings.notice_new_keys = True  # back on: what is there now is the baseline, not a flood
    discover(bot)
    assert notices_to(bot, "U0ALICE") == []
    bot.heimdall.add_token("alice", "after_on", hours=48)
    discover(bot)
    (post,) = notices_to(bot, "U0ALICE")
    assert "after_on" in text_of(post) and "while_off" not in text_of(post)


def test_a_successor_a_rotation_is_making_is_never_told(bot: Bot) -> None:
    bot.heimdall.add_user(APP, None, type="application")
    bot.server.call(bot.runtime.teams.repo.put(Team(APP, TEAM_CHANNEL, ("U0ALICE",), (), GRACE, bot.clock.now())))
    old = bot.heimdall.add_token(APP, "ingest_v1", hours=48)
    bot.clock.advance(minutes=2)
    discover(bot)
    # a rotation (bot.rotation) has named its successor, and DataOS made it, before the record says so
    assert bot.server.call(bot.runtime.rotations.start(
        app_user_id=APP, kind="team", target="vault:secret/p#apikey", trigger="schedule", old_name=old.name,
        old_expiration=old.expiration, new_name="ingest_v2", hours=24, grace_seconds=3600, now=bot.clock.now()))
    bot.heimdall.add_token(APP, "ingest_v2", hours=24)
    discover(bot)
    assert notices_to(bot, TEAM_CHANNEL) == []
    assert told_rows(bot) == {}
