"""Leak watch: a budget junk cannot use up, DMs that count only once delivered,
edits and previews that are not new pastes, shapes that were missed, notes in the right thread, damaged
buttons, no preview of the leaked message, and housekeeping that keeps each table to its retention.

Everything is observed where a person would: over HTTP against the Slack fake and the Heimdall emulator,
and in the database file an operator would open."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED

from bot.housekeeping import housekeeping
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.store.schema import AuditEntry, LeakDM
from tests.e2e.conftest import Bot
from tests.e2e.harness import free_port, process_env, start_bot_process, table_rows, text_of, wait_for_log_line
from tests.e2e.test_leak_watch import ADMIN, AUDIT, GENERAL, authorize_calls, dms_to, fake_key, say

BASE = {"leak_watch": True, "admin_slack_user_ids": ADMIN, "audit_channel": AUDIT}


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {**BASE, "leak_watch_checks_per_minute": 60}


@pytest.fixture(autouse=True)
def people(bot: Bot) -> None:
    """Who posts and who is told, as members of the workspace (Slack knows no one else)."""
    bot.slack.add_user("U0MALLORY", "mallory@example.com", name="Mallory")
    bot.slack.add_user(ADMIN, "admin@example.com", name="Admin")


def notes_to(bot: Bot, user: str) -> list[str]:
    return [text_of(c) for c in bot.slack.delivered("chat.postEphemeral") if c.params.get("user") == user]


def thread_replies(bot: Bot) -> list[Any]:
    return [c for c in bot.slack.calls if c.method == "chat.postMessage" and c.params.get("thread_ts")]


def after_the_startup_housekeeping(bot: Bot) -> None:
    """Wait until the pass `serve` runs at start-up is over, so that only the test decides when the next runs."""
    scheduler = bot.runtime.scheduler

    async def over() -> None:
        # On the bot's loop, so nothing runs between looking at the job and listening for it.
        job = scheduler.get_job("housekeeping")
        if job.next_run_time <= datetime.now(UTC) + timedelta(minutes=5):  # not started yet: wait for its end
            finished = asyncio.Event()

            def done(event: Any) -> None:
                if event.job_id == "housekeeping":
                    finished.set()

            scheduler.add_listener(done, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
            try:
                await asyncio.wait_for(finished.wait(), 30)
            finally:
                scheduler.remove_listener(done)
        await asyncio.wait_for(bot.runtime._sweeping.none.wait(), 30)  # started: it holds the sweeping mark

    bot.server.call(over())


def until_the_queue_is_empty(bot: Bot, minutes: int = 10) -> None:
    """Let budget return, a minute at a time, and the waiting checks run (on the test's clock)."""
    gate = bot.runtime.leak_gate
    for _ in range(minutes):
        if not gate.queued:
            return
        bot.clock.advance(minutes=1)
        bot.server.call(gate.pump())
    assert gate.queued == 0


# ---- 10. blinded by junk ---------------------------------------------------------------------------


def test_junk_cannot_use_up_the_checks_of_a_real_key(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(6):  # sixty key-shaped strings that are no key: the whole minute's budget
        say(bot, " ".join(fake_key(f"junk{i}") for i in range(10)), user="U0MALLORY")
    key = bot.heimdall.add_token("alice", "etl_job", hours=48)
    say(bot, f"deploy with {key.apikey}", user="U0BOB")
    [dm] = dms_to(bot, "U0ALICE")  # checked at once: the flood used its poster's share only
    assert "*etl_job*" in text_of(dm)
    flooding = [n for n in notes_to(bot, "U0MALLORY") if "delayed" in n]
    assert len(flooding) == 1 and "not skipped" in flooding[0]  # told once, not per message
    # The flooder's own real key waits its turn behind the junk, and is checked when budget returns.
    own = bot.heimdall.add_token("alice", "mallorys_copy", hours=48)
    say(bot, own.apikey, user="U0MALLORY")
    assert len(dms_to(bot, "U0ALICE")) == 1
    until_the_queue_is_empty(bot)
    assert len(dms_to(bot, "U0ALICE")) == 2 and "*mallorys_copy*" in text_of(dms_to(bot, "U0ALICE")[1])
    assert authorize_calls(bot) == 62  # every candidate checked, none dropped
    assert len([n for n in notes_to(bot, "U0MALLORY") if "delayed" in n]) == 1
    assert not [r for r in caplog.records if "not checked" in r.getMessage()]


@pytest.mark.parametrize("bot_settings", [{**BASE, "leak_watch_checks_per_minute": 20, "leak_watch_queue": 5}])
def test_a_full_queue_is_counted_and_logged_never_silent(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        say(bot, " ".join(fake_key(f"junk{i}") for i in range(10)), user="U0MALLORY")
    assert authorize_calls(bot) == 10 and bot.runtime.leak_gate.queued == 5
    warned = [r.getMessage() for r in caplog.records if "check queue is full" in r.getMessage()]
    assert len(warned) == 1 and "5 candidate(s) in a message in C0GEN were not checked" in warned[0]
    until_the_queue_is_empty(bot)
    assert authorize_calls(bot) == 15


# ---- 11. a failed owner DM ------------------------------------------------------------------------


def test_a_dm_slack_refused_is_not_told_and_is_sent_on_the_next_paste(bot: Bot) -> None:
    after_the_startup_housekeeping(bot)
    key = bot.heimdall.add_token("alice", "etl_job", hours=48)
    bot.slack.fail("chat.postMessage", "internal_error")  # the owner's DM
    say(bot, key.apikey)
    assert dms_to(bot, "U0ALICE") == []
    [note] = notes_to(bot, "U0BOB")
    assert "has been told" not in note and "could not tell its owner yet" in note
    assert [(r["action"], r["outcome"]) for r in table_rows(bot, AuditEntry)] == [("leak", "not told yet")]
    say(bot, f"again {key.apikey}", user="U0CAROL", channel="C0OTHER")
    [dm] = dms_to(bot, "U0ALICE")  # the DM itself, with its buttons, not a reply to one never sent
    assert any(b["type"] == "actions" for b in dm.params["blocks"]) and not dm.params.get("thread_ts")
    assert thread_replies(bot) == []
    assert "Its owner has been told" in notes_to(bot, "U0CAROL")[0]


def test_housekeeping_retries_a_refused_dm(bot: Bot) -> None:
    after_the_startup_housekeeping(bot)
    key = bot.heimdall.add_token("alice", "etl_job", hours=48)
    bot.slack.fail("chat.postMessage", "internal_error")
    say(bot, key.apikey)
    assert dms_to(bot, "U0ALICE") == []
    bot.clock.advance(minutes=10)
    bot.server.call(housekeeping(bot.runtime))  # the scheduler's job, run now on the test's clock
    [dm] = dms_to(bot, "U0ALICE")
    assert "*etl_job*" in text_of(dm) and "<#C0GEN>" in text_of(dm)
    bot.server.call(housekeeping(bot.runtime))
    assert len(dms_to(bot, "U0ALICE")) == 1  # delivered once: never again
    [row] = table_rows(bot, LeakDM)
    assert (row["state"], row["attempts"]) == ("sent", 2)
    assert [(r["outcome"], r["detail"]) for r in table_rows(bot, AuditEntry)] == [
        ("not told yet", "channel C0GEN; told nobody yet"), ("owner told", "channel C0GEN; told U0ALICE on a retry")]


def test_repeats_do_not_move_the_window(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=24 * 30)
    say(bot, key.apikey)
    bot.clock.advance(hours=20)
    say(bot, key.apikey)
    assert len(dms_to(bot, "U0ALICE")) == 1 and len(thread_replies(bot)) == 1
    bot.clock.advance(hours=5)  # a day and an hour after the first paste, five hours after the repeat
    say(bot, key.apikey)
    assert len(dms_to(bot, "U0ALICE")) == 2


THIRTY_ADMINS = ",".join(f"U0ADM{i:04d}" for i in range(30))


@pytest.mark.parametrize("bot_settings", [{**BASE, "admin_slack_user_ids": THIRTY_ADMINS}])
def test_every_dm_of_a_report_is_kept_whole(bot: Bot) -> None:
    """Thirty admins DMed about an application's key: a repeat reaches every one of their threads."""
    for admin in THIRTY_ADMINS.split(","):
        bot.slack.add_user(admin, f"{admin.lower()}@example.com")
    bot.heimdall.add_user("etl_app", None, type="application")
    key = bot.heimdall.add_token("etl_app", "pipeline", hours=48)
    say(bot, key.apikey)
    dms = [c for c in bot.slack.delivered("chat.postMessage") if c.params["channel"].startswith("U0ADM")]
    assert len(dms) == 30
    say(bot, key.apikey, user="U0CAROL")
    replies = thread_replies(bot)
    assert sorted((c.params["channel"], c.params["thread_ts"]) for c in replies) == sorted(
        (c.result["channel"], c.result["ts"]) for c in dms)
    assert all(c.result.get("ok") for c in replies)


# ---- 12. edits and link previews ------------------------------------------------------------------


def test_edits_and_link_previews_of_a_message_are_not_new_pastes(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=48)
    first = {"text": f"see {key.apikey} and https://grafana.example/d/1", "user": "U0BOB", "ts": "1700000500.000100"}
    say(bot, first["text"], ts=first["ts"])
    unfurled = dict(first, attachments=[{"title": "Grafana", "text": "Dashboards", "from_url": "https://grafana.example/d/1"}])
    say(bot, "", subtype="message_changed", message=unfurled, previous_message=first)
    edited = dict(unfurled, text=first["text"] + " (use it for the loader)")
    say(bot, "", subtype="message_changed", message=edited, previous_message=unfurled)
    assert authorize_calls(bot) == 1 and len(dms_to(bot, "U0ALICE")) == 1 and thread_replies(bot) == []
    assert len(notes_to(bot, "U0BOB")) == 1 and len(table_rows(bot, AuditEntry)) == 1
    other = bot.heimdall.add_token("alice", "other", hours=48)
    say(bot, "", subtype="message_changed", message=dict(edited, text=edited["text"] + " " + other.apikey),
        previous_message=edited)
    assert authorize_calls(bot) == 2 and "*other*" in text_of(dms_to(bot, "U0ALICE")[-1])  # a key new to the edit


# ---- 13. shapes that were missed ------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["shared message", "snippet", "url-encoded padding", "url path"])
def test_keys_in_every_shape_are_caught(bot: Bot, shape: str) -> None:
    key = bot.heimdall.add_token("alice", "etl", hours=48).apikey  # "etl.<uuid>" is 40 bytes: "==" padding
    assert key.endswith("==")
    if shape == "shared message":
        say(bot, "fyi", attachments=[{"is_share": True, "text": f"the loader key is {key}", "fallback": "[msg]"}])
    elif shape == "snippet":
        say(bot, "", subtype="file_share", files=[{"id": "F0SNIP", "mode": "snippet", "preview": f"APIKEY={key}\n"}])
    elif shape == "url-encoded padding":
        say(bot, f"<https://dataos.example/heimdall/api/v1/authorize?token={key.replace('=', '%3D')}>")
    else:
        say(bot, f"<https://dataos.example/heimdall/api/v1/keys/{key}>")
    [dm] = dms_to(bot, "U0ALICE")
    assert "*etl*" in text_of(dm)


# ---- 14, 16. where the notes go, and what the DM shows ----------------------------------------------


def test_the_posters_note_lands_in_the_thread_and_the_dm_previews_nothing(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "etl_job", hours=48)
    say(bot, f"here: {key.apikey}", thread_ts="1700000001.000100")
    [note] = [c for c in bot.slack.delivered("chat.postEphemeral") if c.params.get("user") == "U0BOB"]
    assert note.params["channel"] == GENERAL and note.params["thread_ts"] == "1700000001.000100"
    [dm] = dms_to(bot, "U0ALICE")
    assert "https://acme.slack.com/archives/C0GEN/p" in text_of(dm)  # the link is there…
    assert dm.params["unfurl_links"] is False and dm.params["unfurl_media"] is False  # …without its preview
    top = bot.heimdall.add_token("alice", "top", hours=48)
    say(bot, top.apikey)  # a top-level message: its note is in the channel
    assert "thread_ts" not in [c for c in bot.slack.delivered("chat.postEphemeral")][-1].params


# ---- 15. a damaged button --------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["leak_revoke", "leak_keep", "leak_renew"])
def test_an_out_of_range_stamp_is_a_damaged_button(bot: Bot, action: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    bot.heimdall.add_token("alice", "etl_job", hours=48)
    for stamp in (10**17, 10**300):
        value = json.dumps({"u": "alice", "k": "etl_job", "e": stamp}, separators=(",", ":"))
        assert bot.user.click(action, value, user="U0ALICE", channel="D0ALICE", ephemeral=False).status_code == 200
        done = bot.slack.wait_for("chat.update", count=1 if stamp == 10**17 else 2)[-1]
        assert "That button is damaged; nothing was changed." in text_of(done)
    assert "etl_job" in bot.heimdall.tokens["alice"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# ---- 17. retention ---------------------------------------------------------------------------------


def test_serve_prunes_each_table_on_its_retention_with_reminders_off(tmp_path: Path, slack: SlackFake,
                                                                      heimdall: HeimdallEmulator) -> None:
    """`apikey-bot serve` with REMINDERS_ENABLED=false still keeps every table to its retention."""
    import asyncio

    from bot.store import create_engine, migrate

    db = tmp_path / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    asyncio.run(migrate(engine))
    asyncio.run(engine.dispose())
    now = datetime.now(UTC)

    def at(delta: timedelta) -> str:
        return (now - delta).strftime("%Y-%m-%d %H:%M:%S.%f")

    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO slack_events (event_id, received_at) VALUES (?, ?)",
                         [("EvOLD", at(timedelta(hours=7))), ("EvNEW", at(timedelta(hours=1)))])
        conn.executemany("INSERT INTO idempotency_keys (key, created_at, updated_at, state, dataos_user_id) "
                         "VALUES (?, ?, ?, 'done', 'alice')",
                         [("old", at(timedelta(days=8)), at(timedelta(days=8))),
                          ("new", at(timedelta(days=1)), at(timedelta(days=1)))])
        conn.executemany("INSERT INTO leak_reports (fingerprint, dataos_user_id, key_name, first_seen, last_seen, "
                         "times, to_admins) VALUES (?, 'alice', 'etl', ?, ?, 1, 0)",
                         [("old", at(timedelta(days=40)), at(timedelta(days=31))),
                          ("new", at(timedelta(days=40)), at(timedelta(days=2)))])
        conn.executemany("INSERT INTO leak_dms (fingerprint, recipient, state, attempts, updated_at) "
                         "VALUES (?, 'U0ALICE', 'sent', 1, ?)", [("old", at(timedelta(days=40))),
                                                                  ("new", at(timedelta(days=40)))])
        conn.execute("INSERT INTO audit_log (at, actor_slack_id, action, outcome) VALUES (?, 'U0A', 'leak', 'x')",
                     (at(timedelta(days=400)),))

    def left() -> dict[str, list[str]]:
        with sqlite3.connect(db) as conn:
            return {table: sorted(str(r[0]) for r in conn.execute(f"SELECT {column} FROM {table}"))
                    for table, column in (("slack_events", "event_id"), ("idempotency_keys", "key"),
                                          ("leak_reports", "fingerprint"), ("leak_dms", "fingerprint"),
                                          ("audit_log", "action"))}

    port = free_port()
    env = process_env(slack, heimdall, "hk-secret", DATABASE_URL=f"sqlite+aiosqlite:///{db}", LEAK_WATCH="true")
    assert env["REMINDERS_ENABLED"] == "false"
    proc = start_bot_process(env, tmp_path, port)
    try:
        # The housekeeping pass the scheduler starts at once says what it did: the tables are read after.
        wait_for_log_line(proc, "housekeeping:")
        assert left() == {"slack_events": ["EvNEW"], "idempotency_keys": ["new"], "leak_reports": ["new"],
                          "leak_dms": ["new"], "audit_log": ["leak"]}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


@pytest.mark.parametrize("bot_settings", [{**BASE, "admin_slack_user_ids": ""}])
def test_when_nobody_can_be_told_the_poster_is_not_told_otherwise(bot: Bot) -> None:
    bot.heimdall.add_user("etl_app", None, type="application")
    key = bot.heimdall.add_token("etl_app", "pipeline", hours=48)
    say(bot, key.apikey)
    [note] = notes_to(bot, "U0BOB")
    assert "been told" not in note and "please tell a platform admin" in note
