"""Leak watch end to end: the Slack fake delivers message events, the Heimdall emulator answers
/authorize; the owner, the poster, the admins and the audit channel get what they should, and
nobody hears of anything that is not a live key."""

from __future__ import annotations

import base64
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from bot.store.schema import AuditEntry, LeakReport
from tests.e2e.conftest import Bot
from tests.e2e.harness import table_rows, text_of, view_id_of

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"
GENERAL = "C0GEN"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"leak_watch": True, "admin_slack_user_ids": ADMIN, "audit_channel": AUDIT,
            "leak_watch_checks_per_minute": 30}


_events = iter(range(1, 10**6))


def say(bot: Bot, text: str, user: str = "U0BOB", channel: str = GENERAL, **extra: Any) -> None:
    n = next(_events)
    event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": f"1700000{n:03d}.000100",
             "channel_type": "channel", **extra}
    assert bot.user.event(event, event_id=f"EvMSG{n}").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))


def dms_to(bot: Bot, user: str) -> list[Any]:
    return [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("channel") == user]


def ephemerals(bot: Bot) -> list[Any]:
    return [c for c in bot.slack.delivered("chat.postEphemeral") if c.params.get("channel") == GENERAL]


def authorize_calls(bot: Bot) -> int:
    return len([c for c in bot.heimdall.calls if c.path.endswith("/authorize")])


def test_a_live_key_pasted_in_a_channel_reaches_its_owner_the_poster_and_the_audit_channel(
        bot: Bot, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    key = bot.heimdall.add_token("alice", "etl_job", hours=24 * 30)
    say(bot, f"here's the key for the job: `{key.apikey}` have fun")
    dm = dms_to(bot, "U0ALICE")
    assert len(dm) == 1
    text = text_of(dm[0])
    assert "*etl_job*" in text and f"<#{GENERAL}>" in text and "<@U0BOB>" in text
    assert "https://acme.slack.com/archives/C0GEN/p" in text and "<!date^" in text
    actions = [e["action_id"] for b in dm[0].params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["leak_revoke", "leak_renew", "leak_keep"]
    assert key.apikey not in json.dumps([c.params for c in bot.slack.calls])  # never echoed anywhere
    [note] = ephemerals(bot)
    assert note.params["user"] == "U0BOB" and "Delete message" in text_of(note)
    audit = [c.params["text"] for c in bot.slack.delivered("chat.postMessage") if c.params["channel"] == AUDIT]
    assert len(audit) == 1 and "leak" in audit[0] and "`etl_job`" in audit[0]
    assert [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)] == [("leak", "owner told")]
    # the message text and the key are nowhere: not in logs, not in the database
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert key.apikey not in logged and "have fun" not in logged
    raw = Path(bot.runtime.settings.database_url.split("///", 1)[1]).read_bytes()
    assert key.apikey.encode() not in raw
    [report] = table_rows(bot, LeakReport)
    assert len(report["fingerprint"]) == 64 and report["key_name"] == "etl_job"


def test_revoke_now_from_the_dm(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=24 * 30)
    say(bot, key.apikey)
    dm = dms_to(bot, "U0ALICE")[0]
    button = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "leak_revoke")
    bot.user.click("leak_revoke", button["value"], user="U0BOB", channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    refused = bot.slack.wait_for("chat.postEphemeral", where=lambda c: "Only the key's owner" in text_of(c))
    assert refused and "etl_job" in bot.heimdall.tokens["alice"]
    bot.user.click("leak_revoke", button["value"], user="U0ALICE", channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    done = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0]
    assert "revoked *etl_job*" in text_of(done)
    assert "etl_job" not in bot.heimdall.tokens["alice"]


def test_keep_it_and_renew_and_revoke(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=24 * 30)
    say(bot, key.apikey)
    dm = dms_to(bot, "U0ALICE")[0]
    value = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"])["value"]
    bot.user.click("leak_renew", value, user="U0ALICE", channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]  # at once, loading: whose key it is is found out after
    form = bot.slack.wait_for("views.update", where=lambda c: c.params["view_id"] == view_id_of(opened))[0]
    form = form.params["view"]
    old = next(b for b in form["blocks"] if b.get("block_id") == "old_key_block")
    assert form["callback_id"] == "renew_key" and old["element"]["initial_option"]["value"] == "now"
    bot.user.click("leak_keep", value, user="U0ALICE", channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    kept = bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0]
    assert "chose to keep *etl_job*" in text_of(kept) and "etl_job" in bot.heimdall.tokens["alice"]


def test_the_same_key_again_within_a_day_does_not_dm_again(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=24 * 30)
    say(bot, key.apikey)
    say(bot, f"again: {key.apikey}", user="U0CAROL", channel="C0OTHER")
    assert len(dms_to(bot, "U0ALICE")) == 1
    again = [c for c in bot.slack.delivered("chat.postMessage") if c.params.get("thread_ts")]
    assert len(again) == 1 and "Posted again in <#C0OTHER> by <@U0CAROL> (2 times" in text_of(again[0])
    bot.clock.advance(days=1, minutes=1)
    say(bot, key.apikey)
    assert len(dms_to(bot, "U0ALICE")) == 2  # a day later it is news again


def test_keys_of_application_users_and_unmapped_people_go_to_the_admins(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.heimdall.add_user("etl_app", None, type="application")
    app_key = bot.heimdall.add_token("etl_app", "pipeline", hours=48)
    bot.heimdall.add_user("zed", "zed@nowhere.example")
    zed_key = bot.heimdall.add_token("zed", "zeds", hours=48)
    say(bot, app_key.apikey)
    say(bot, zed_key.apikey)
    admin_dms = dms_to(bot, ADMIN)
    assert len(admin_dms) == 2
    assert "`etl_app`" in text_of(admin_dms[0]) and "`zed`" in text_of(admin_dms[1])
    actions = [e["action_id"] for b in admin_dms[0].params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert actions == ["leak_revoke", "leak_keep"]  # no renew: the new key would reach the admin, not its owner
    bot.user.click("leak_revoke", next(e for b in admin_dms[0].params["blocks"] if b["type"] == "actions"
                                       for e in b["elements"])["value"], user=ADMIN,
                   channel=admin_dms[0].result["channel"], message_ts=admin_dms[0].result["ts"], ephemeral=False)
    bot.slack.wait_for("chat.update")
    assert "pipeline" not in bot.heimdall.tokens["etl_app"]


def fake_key(name: str = "not_real") -> str:
    return base64.b64encode(f"{name}.{uuid.uuid4()}".encode()).decode()


@pytest.mark.parametrize("text", [
    base64.b64encode(b"just some long text that happens to be base64 encoded, nothing more").decode(),
    base64.b64encode(b"name.12345678-1234-1234-1234-123456789012").decode(),  # not a UUID version 4
    fake_key(),  # the right shape, but DataOS knows no such key
    "x" * 40_000,
    " ".join(fake_key(f"k{i}") for i in range(500)),
])
def test_what_is_not_a_live_key_reaches_nobody(bot: Bot, text: str) -> None:
    say(bot, text)
    assert authorize_calls(bot) <= 10  # at most ten candidates per message are checked
    assert dms_to(bot, "U0ALICE") == [] and ephemerals(bot) == []
    assert table_rows(bot, LeakReport) == [] and table_rows(bot, AuditEntry) == []


def test_expired_keys_keys_of_deleted_users_bots_and_edits_that_remove_the_key(bot: Bot) -> None:
    expired = bot.heimdall.add_token("alice", "old", hours=1)
    bot.clock.advance(hours=2)
    say(bot, expired.apikey)
    gone = bot.heimdall.add_token("bob", "bobs", hours=48)
    bot.heimdall.remove_token("bob", "bobs")
    say(bot, gone.apikey)
    live = bot.heimdall.add_token("alice", "live", hours=48)
    say(bot, live.apikey, user="UBOT0001")  # the bot itself
    say(bot, live.apikey, bot_id="B0OTHER", subtype="bot_message")  # another bot
    say(bot, "", subtype="message_changed", message={"text": "I removed it", "user": "U0BOB", "ts": "1.2"},
        previous_message={"text": live.apikey, "user": "U0BOB", "ts": "1.2"})
    assert dms_to(bot, "U0ALICE") == [] and ephemerals(bot) == []


def test_an_edit_that_adds_a_key_and_a_thread_reply_are_caught(bot: Bot) -> None:
    live = bot.heimdall.add_token("alice", "live", hours=48)
    say(bot, "", subtype="message_changed", message={"text": f"oops {live.apikey}", "user": "U0BOB", "ts": "1.2"})
    assert len(dms_to(bot, "U0ALICE")) == 1
    other = bot.heimdall.add_token("alice", "other", hours=48)
    say(bot, other.apikey, thread_ts="1700000001.000100")
    assert len(dms_to(bot, "U0ALICE")) == 2


def test_checks_are_bounded_per_minute(bot: Bot) -> None:
    keys = [bot.heimdall.add_token("alice", f"k{i}", hours=48).apikey for i in range(40)]
    for n, i in enumerate(range(0, 40, 10)):  # four posters in four channels: each within their own share
        say(bot, " ".join(keys[i:i + 10]), user=f"U0POSTER{n}", channel=f"C0CHAN{n}")
    assert authorize_calls(bot) == 30  # LEAK_WATCH_CHECKS_PER_MINUTE, for everyone together
    bot.clock.advance(minutes=1)
    bot.server.call(bot.runtime.leak_gate.pump())
    assert authorize_calls(bot) == 40  # the rest waited their turn; none was dropped


@pytest.mark.parametrize("bot_settings", [{"leak_watch": False}])
def test_off_by_default_nothing_is_read(bot: Bot) -> None:
    live = bot.heimdall.add_token("alice", "live", hours=48)
    say(bot, live.apikey)
    assert authorize_calls(bot) == 0 and dms_to(bot, "U0ALICE") == []


def test_renew_and_revoke_is_not_offered_when_the_pasted_key_could_not_be_named_exactly(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=24 * 30)
    bot.heimdall.fail_next(1, 400, match="/users/alice/tokens")  # which key it was: DataOS cannot say now
    say(bot, key.apikey)
    dm = dms_to(bot, "U0ALICE")[0]
    actions = [e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [e["action_id"] for e in actions] == ["leak_revoke", "leak_keep"]
    # a Renew from such a DM (an older message) explains itself and changes nothing
    bot.user.click("leak_renew", actions[0]["value"], user="U0ALICE", channel=dm.result["channel"],
                   message_ts=dm.result["ts"], ephemeral=False)
    said = bot.slack.wait_for("chat.postEphemeral", where=lambda c: c.params.get("user") == "U0ALICE")[0]
    assert "I could not tell exactly which key *etl_job* was pasted" in text_of(said)
    assert bot.slack.calls_to("views.open") == [] and "etl_job" in bot.heimdall.tokens["alice"]
