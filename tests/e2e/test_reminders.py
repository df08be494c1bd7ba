"""Reminder DMs and their buttons (Renew, Revoke, Snooze, Mute), and `/apikey reminders`, over real HTTP."""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall, SlackFake
from bot.reminders.summary import SweepSummary
from bot.reminders.sweep import Sweeper
from bot.store.schema import KeySighting, ScheduledRevocation
from tests.e2e.conftest import Bot
from tests.e2e.harness import audit_actions, create_values, table_rows, text_of, view_id_of

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
H = timedelta(hours=1)
D = timedelta(days=1)


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"snooze": "1d", "renew_grace": "24h"}


@pytest.fixture(autouse=True)
def wednesday(clock: Any) -> None:
    clock._now = WED_1430


def sweep(bot: Bot) -> SweepSummary:
    return bot.server.call(Sweeper(bot.runtime).run())


def reminder_for(bot: Bot, name: str) -> SlackCall:
    return next(c for c in bot.slack.delivered("chat.postMessage") if f'\\"k\\":\\"{name}\\"' in json.dumps(c.params)
                or f'"k":"{name}"' in json.dumps(c.params))


def button(call: SlackCall, action_id: str) -> dict[str, Any]:
    return next(e for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


def press(bot: Bot, dm: SlackCall, action_id: str, user: str = "U0ALICE", value: str | None = None) -> None:
    bot.user.click(action_id, value if value is not None else button(dm, action_id)["value"], user=user,
                   channel=dm.result["channel"], message_ts=dm.result["ts"], ephemeral=False)


def dm_update(bot: Bot, dm: SlackCall) -> SlackCall:
    return bot.slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0]


def test_reminder_dm_is_persisted_without_secret_and_names_the_key(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + 20 * H)
    assert sweep(bot).sent == 1
    dm = reminder_for(bot, "ci_loader")
    assert dm.params["channel"] == "U0ALICE" and dm.result["channel"] == "D0ALICE"
    text = json.dumps(dm.params, ensure_ascii=False)
    assert key.apikey not in text and "expires" in text and "refused by DataOS" in text
    assert [r["channel"] for r in bot.server.call(bot.runtime.ledger.ledger())] == ["D0ALICE"]


def test_snooze_then_remind_again(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "weekly", expiration=WED_1430 + 5 * D)
    sweep(bot)
    dm = reminder_for(bot, "weekly")
    press(bot, dm, "reminder_snooze")
    update = dm_update(bot, dm)
    assert update.params["channel"] == "D0ALICE" and "snoozed" in text_of(update)
    assert "actions" not in [b["type"] for b in update.params["blocks"]]  # nothing left to press twice
    bot.clock.advance(hours=12)
    assert sweep(bot).sent == 0
    bot.clock.advance(hours=12)
    assert sweep(bot).sent == 1
    assert len([c for c in bot.slack.delivered("chat.postMessage") if "weekly" in json.dumps(c.params)]) == 2


def test_mute_stops_reminders_for_that_key(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "noisy", expiration=WED_1430 + 6 * D)
    bot.heimdall.add_token("alice", "other", expiration=WED_1430 + 6 * D)
    sweep(bot)
    press(bot, reminder_for(bot, "noisy"), "reminder_mute")
    assert "muted" in text_of(dm_update(bot, reminder_for(bot, "noisy")))
    bot.clock.advance(days=5, hours=1)  # Monday: the 1-day step is due for both
    sweep(bot)
    names = [json.loads(button(c, "reminder_mute")["value"])["k"] for c in bot.slack.delivered("chat.postMessage")]
    assert sorted(names) == ["noisy", "other", "other"]
    rows = table_rows(bot, KeySighting)
    assert [r["muted"] for r in rows if r["key_name"] == "noisy"] == [1]


def test_revoke_from_the_reminder(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "old_key", expiration=WED_1430 + 20 * H)
    sweep(bot)
    dm = reminder_for(bot, "old_key")
    assert "confirm" in button(dm, "reminder_revoke")
    press(bot, dm, "reminder_revoke")
    assert "revoked" in text_of(dm_update(bot, dm))
    assert bot.heimdall.tokens["alice"] == {}
    assert ("revoke", "ok", "old_key") in audit_actions(bot)


def test_revoke_on_an_old_reminder_leaves_a_newer_key_of_that_name_alone(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + 20 * H)
    sweep(bot)
    dm = reminder_for(bot, "ci_loader")
    newer = bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + 30 * D)  # revoked, made again
    press(bot, dm, "reminder_revoke")
    assert "`ci_loader` was replaced after this message; nothing was revoked." in text_of(dm_update(bot, dm))
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey
    assert bot.heimdall.calls_to("DELETE", "/") == []
    assert ("revoke", "skipped: key changed", "ci_loader") in audit_actions(bot)


def test_revoke_button_pointing_at_another_users_key_changes_nothing(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "mine", expiration=WED_1430 + 20 * H)
    bot.heimdall.add_token("bob", "bobs_key", expiration=WED_1430 + 20 * H)
    sweep(bot)
    dm = reminder_for(bot, "mine")
    forged = json.dumps({"k": "bobs_key", "e": int((WED_1430 + 20 * H).timestamp()), "h": 0})
    press(bot, dm, "reminder_revoke", value=forged)
    assert "already gone from DataOS; nothing was changed" in text_of(dm_update(bot, dm))
    assert "bobs_key" in bot.heimdall.tokens["bob"] and "mine" in bot.heimdall.tokens["alice"]


def test_damaged_button_value_is_refused_politely(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "k", expiration=WED_1430 + 20 * H)
    sweep(bot)
    press(bot, reminder_for(bot, "k"), "reminder_mute", value="{not json")
    reply = bot.slack.wait_for("chat.postEphemeral")[0]
    assert "That button is damaged; nothing was changed" in text_of(reply)
    assert bot.slack.calls_to("chat.update") == []


@pytest.mark.parametrize(("choice", "outcome"), [("now", "was revoked"), ("in:24", "will be revoked"),
                                                 ("keep", "is left to expire")])
def test_renew(bot: Bot, choice: str, outcome: str) -> None:
    old = bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + 5 * D)
    sweep(bot)
    dm = reminder_for(bot, "ci_loader")
    press(bot, dm, "reminder_renew")
    opened = bot.slack.wait_for("views.open")[0]
    view = opened.params["view"]
    assert view["callback_id"] == "renew_key"
    fields = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert fields["name_block"]["initial_value"] == "ci_loader_20261125"
    assert fields["old_key_block"]["initial_option"]["value"] == "in:24"
    assert old.apikey not in json.dumps(view)
    values = create_values(name="ci_loader_20261125", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": choice}}}
    r = bot.user.submit(view_id_of(opened), values)
    assert r.json()["response_action"] == "update"
    result = bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    assert outcome in text_of(result)
    new = bot.heimdall.tokens["alice"]["ci_loader_20261125"]
    eph = bot.slack.wait_for("chat.postEphemeral")[0]
    assert new.apikey in text_of(eph) and eph.params["channel"] == "D0ALICE"
    assert "renewed as *ci_loader_20261125*" in text_of(dm_update(bot, dm))
    assert ("ci_loader" in bot.heimdall.tokens["alice"]) is (choice != "now")
    assert ("renew", "ok", "ci_loader") in audit_actions(bot)
    if choice == "in:24":
        assert [r["key_name"] for r in table_rows(bot, ScheduledRevocation)] == ["ci_loader"]
        bot.clock.advance(hours=24)
        assert sweep(bot).revoked_later == 1
        assert "ci_loader" not in bot.heimdall.tokens["alice"]


def test_renew_form_refuses_the_old_name(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "same", expiration=WED_1430 + 5 * D)
    sweep(bot)
    press(bot, reminder_for(bot, "same"), "reminder_renew")
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="same", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "now"}}}
    r = bot.user.submit(view_id_of(opened), values)
    assert r.json()["response_action"] == "errors" and "name of its own" in r.json()["errors"]["name_block"]
    assert bot.heimdall.calls_to("POST") == []


def test_reminders_command_off_and_on(bot: Bot) -> None:
    bot.heimdall.add_token("alice", "k", expiration=WED_1430 + 20 * H)
    bot.user.command("reminders")
    assert "Expiry reminders are *on*" in text_of(bot.slack.wait_for("response_url")[0])
    bot.user.command("reminders off")
    assert "*off*" in text_of(bot.slack.wait_for("response_url", 2)[1])
    assert sweep(bot).sent == 0
    bot.user.command("reminders on")
    bot.slack.wait_for("response_url", 3)
    assert sweep(bot).sent == 1


def _env(slack: SlackFake, heimdall: HeimdallEmulator) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin"), "SLACK_BOT_TOKEN": slack.token,
            "SLACK_API_URL": slack.api_url, "HEIMDALL_URL": heimdall.url,
            "DATAOS_APIKEY": heimdall.operator_key,  # type: ignore[attr-defined]
            "WORKING_DAYS": "mon-sun", "WORKING_HOURS": "00:00-24:00"}


def test_sweep_command_prints_a_summary(slack: SlackFake, heimdall: HeimdallEmulator, tmp_path: Path) -> None:
    # the command runs on the real clock, unlike the fixtures' injected one
    heimdall.add_token("alice", "cli_key", expiration=datetime.now(UTC) + 10 * H)
    result = subprocess.run([sys.executable, "-m", "bot", "sweep"], capture_output=True, text=True, timeout=60,
                            env=_env(slack, heimdall), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "kind: discovery" in result.stdout  # the first pass: the record is empty
    assert "users checked: 3" in result.stdout and "reminders sent: 1" in result.stdout
    assert "failures: 0" in result.stdout
    # the directory was read once: the discovery used what the start-up had just loaded
    assert len([c for c in heimdall.calls if c.method == "GET" and c.path.split("?")[0].endswith("/v1/users")]) == 1
    assert len(slack.delivered("chat.postMessage")) == 1
    # the record is fresh now: a plain `sweep` is a tick (nothing due, no DataOS call for keys)...
    heimdall.calls.clear()
    tick = subprocess.run([sys.executable, "-m", "bot", "sweep"], capture_output=True, text=True, timeout=60,
                          env=_env(slack, heimdall), cwd=tmp_path)
    assert tick.returncode == 0 and "kind: tick (0 owners with a key due)" in tick.stdout
    assert [c for c in heimdall.calls if "/tokens" in c.path and "apikey-bot" not in c.path] == []
    # ...and --discover lists everyone's keys now
    forced = subprocess.run([sys.executable, "-m", "bot", "sweep", "--discover"], capture_output=True, text=True,
                            timeout=60, env=_env(slack, heimdall), cwd=tmp_path)
    assert forced.returncode == 0 and "kind: discovery" in forced.stdout and "users checked: 3" in forced.stdout


def test_sweep_command_fails_loudly(slack: SlackFake, heimdall: HeimdallEmulator, tmp_path: Path) -> None:
    heimdall.fail_next(1000, 503)
    result = subprocess.run([sys.executable, "-m", "bot", "sweep"], capture_output=True, text=True, timeout=60,
                            env=_env(slack, heimdall), cwd=tmp_path)
    assert result.returncode == 1
    assert "sweep failed: the DataOS user directory is unavailable" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_runs_a_catch_up_sweep_at_start(slack: SlackFake, heimdall: HeimdallEmulator, clock: Any,
                                              tmp_path: Path) -> None:
    from tests.e2e.harness import make_settings, running_bot

    heimdall.add_token("bob", "due_now", expiration=WED_1430 + 20 * H)
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), reminders_enabled=True)
    with running_bot(settings, clock, slack) as (server, _user):
        dm = slack.wait_for("chat.postMessage")[0]
        assert dm.params["channel"] == "U0BOB" and "due_now" in json.dumps(dm.params)
        assert server.runtime.scheduler is not None
        job = server.runtime.scheduler.get_job("sweep")
        assert job is not None and job.trigger.interval == timedelta(minutes=30)


def test_a_shutdown_in_the_middle_of_a_sweep_sends_each_reminder_once(
        slack: SlackFake, heimdall: HeimdallEmulator, clock: Any, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """A deploy stops the bot while its start-up sweep is sending: what Slack took is recorded before the
    database closes, the DM in flight as unknown, the log says so without a traceback, nothing is sent
    twice, and the rest goes out."""
    from bot.reminders.outbox import CLAIM_LEASE
    from tests.e2e.harness import make_settings, running_bot

    keys = [f"{user}_due_{n}" for user in ("alice", "bob", "carol") for n in (1, 2)]
    for key in keys:
        heimdall.add_token(key.split("_")[0], key, expiration=WED_1430 + 20 * H)
    common = {"sweep_concurrency": 1, "working_days": "mon-sun", "working_hours": "00:00-24:00"}
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), reminders_enabled=True, **common)
    slack.hold("chat.postMessage", times=100, after=2)  # two DMs go out, then Slack hangs
    with running_bot(settings, clock, slack):
        slack.wait_for("held:chat.postMessage")
    # the bot stopped while its third DM was in flight
    first = [_key_of(c) for c in slack.delivered("chat.postMessage")]
    assert len(first) == 2
    assert "reminder sweep stopped by the shutdown" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    with sqlite3.connect(tmp_path / "bot.db") as db:
        sent = [name for name, in db.execute("SELECT key_name FROM reminder_ledger WHERE state = 'sent'")]
    assert sorted(sent) == sorted(first)
    slack.held.clear()

    with sqlite3.connect(tmp_path / "bot.db") as db:
        unknown = [name for name, in db.execute("SELECT key_name FROM reminder_ledger WHERE state = 'unknown'")]
    assert len(unknown) == 1  # the DM in flight: Slack may have it

    # The next start: the interrupted discovery is done again. The DM that was in flight may have reached
    # Slack, so it is never sent again (the next step of the ladder covers it); everything else goes now.
    calm = make_settings(slack, heimdall, str(tmp_path / "bot.db"), **common)
    with running_bot(calm, clock, slack) as (server, _user):
        again = server.call(Sweeper(server.runtime).run())
        assert again.kind == "discovery" and again.skipped["claimed by another sweep"] == 0
        clock.advance(seconds=(CLAIM_LEASE + timedelta(minutes=1)).total_seconds())
        later = server.call(Sweeper(server.runtime).run())
    assert (again.sent, later.sent) == (3, 0)
    delivered = [_key_of(c) for c in slack.delivered("chat.postMessage")]
    assert sorted(delivered) == sorted(k for k in keys if k not in unknown)
    assert len([c for c in slack.calls_to("chat.postMessage") if _key_of(c) == unknown[0]]) == 1


def _key_of(call: SlackCall) -> str:
    found = re.search(r"(alice|bob|carol)_due_\d", json.dumps(call.params))
    assert found is not None
    return found.group(0)
