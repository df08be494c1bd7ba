"""`serve --socket-mode` end to end: the Slack fake hands out a WebSocket through `apps.connections.open`
and sends envelopes on it, as Slack does; each must be acknowledged with its envelope id within 3 s.
The payloads go through the same checks as HTTP bodies."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import DROP, SlackFake
from bot.reminders.sweep import Sweeper
from tests.conftest import FakeClock
from tests.e2e.harness import BotServer, create_values, make_settings, text_of

WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)
ACK_DEADLINE = 3.0  # Slack's, for every envelope


@pytest.fixture
def socket_bot(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock, tmp_path: Path) -> Iterator[BotServer]:
    clock._now = WED_1430
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"), slack_app_token=slack.app_token,
                             slack_signing_secret=None)
    server = BotServer(settings, clock, socket_mode=True)
    server.start()
    slack.wait_for_socket()
    try:
        yield server
    finally:
        server.stop()


def command(slack: SlackFake, text: str, user: str = "U0ALICE", trigger: str = "t.1") -> str:
    return slack.send_envelope("slash_commands", {
        "token": "legacy", "team_id": "T0123", "channel_id": "C0456", "channel_name": "general", "user_id": user,
        "user_name": user.lower(), "command": "/apikey", "text": text, "api_app_id": "A0ABC",
        "response_url": slack.response_url("cmd"), "trigger_id": trigger})


def acked(slack: SlackFake, envelope_id: str) -> dict[str, Any]:
    seconds, payload = slack.wait_for_ack(envelope_id)
    assert seconds <= ACK_DEADLINE
    return payload


def interactive(slack: SlackFake, payload: dict[str, Any]) -> str:
    return slack.send_envelope("interactive", payload)


def test_create_delivers_the_key_privately_over_socket_mode(socket_bot: BotServer, slack: SlackFake,
                                                            heimdall: HeimdallEmulator) -> None:
    acked(slack, command(slack, "create sock_key", trigger="sock.1"))
    opened = slack.wait_for("views.open", where=lambda c: c.params.get("trigger_id") == "sock.1")[0]
    view = dict(slack.views[str(opened.result["view"]["id"])], state={"values": create_values(name="sock_key")})
    answer = acked(slack, interactive(slack, {"type": "view_submission", "user": {"id": "U0ALICE"},
                                              "team": {"id": "T0123"}, "view": view, "trigger_id": "s.2"}))
    assert answer["response_action"] == "update"
    done = slack.wait_for("views.update", where=lambda c: "created" in text_of(c))[0]
    secret = heimdall.tokens["alice"]["sock_key"].apikey
    assert secret not in text_of(done)
    dm = slack.wait_for("chat.postEphemeral", where=lambda c: secret in text_of(c))[0]
    assert dm.params["channel"] == "D0ALICE" and dm.params["user"] == "U0ALICE"


def test_list_answers_over_socket_mode_and_survives_a_disconnect(socket_bot: BotServer, slack: SlackFake,
                                                                 heimdall: HeimdallEmulator) -> None:
    heimdall.add_token("alice", "listed_key", hours=48)
    acked(slack, command(slack, "list"))
    assert "listed_key" in text_of(slack.wait_for("response_url")[0])
    slack.disconnect_socket()  # Slack asks the client to move to a new connection mid-run
    slack.wait_for_socket(count=2)
    assert len(slack.calls_to("apps.connections.open")) >= 2
    acked(slack, command(slack, "list"))
    assert "listed_key" in text_of(slack.wait_for("response_url", 2)[1])


def test_a_reminder_button_works_over_socket_mode(socket_bot: BotServer, slack: SlackFake,
                                                  heimdall: HeimdallEmulator) -> None:
    # six days ahead: the 7-day reminder, whose snooze ends well before the expiry (so it is offered)
    heimdall.add_token("alice", "soon", expiration=WED_1430 + timedelta(days=6))
    socket_bot.call(Sweeper(socket_bot.runtime).run())
    dm = next(c for c in slack.delivered("chat.postMessage") if "soon" in text_of(c))
    snooze = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "reminder_snooze")
    acked(slack, interactive(slack, {
        "type": "block_actions", "user": {"id": "U0ALICE"}, "team": {"id": "T0123"}, "trigger_id": "s.3",
        "container": {"type": "message", "channel_id": dm.result["channel"], "message_ts": dm.result["ts"]},
        "channel": {"id": dm.result["channel"]},
        "actions": [{"action_id": "reminder_snooze", "block_id": "reminder", "value": snooze["value"]}]}))
    update = slack.wait_for("chat.update", where=lambda c: c.params.get("ts") == dm.result["ts"])[0]
    assert "snoozed" in text_of(update)


@pytest.mark.parametrize("payload", [
    {"type": "block_actions", "user": {"id": "U0ALICE"}, "container": "D0ALICE",
     "actions": [{"action_id": "list_keys", "value": "list"}]},
    {"type": "block_actions", "user": {"id": "U0ALICE"}, "actions": [{"action_id": "list_keys", "value": 7}]},
    {"type": "view_submission", "user": {"id": "U0ALICE"}, "view": {"id": "V1", "type": "modal"}},
    {"type": "block_actions", "user": {"id": "U0ALICE"},
     "actions": [{"action_id": "list_keys", "value": "x", "deep": json.loads("[" * 60 + "]" * 60)}]},
])
def test_malformed_envelopes_are_acknowledged_and_dropped(socket_bot: BotServer, slack: SlackFake,
                                                          payload: dict[str, Any]) -> None:
    before = len(slack.calls)
    assert acked(slack, interactive(slack, payload)) == {}
    assert socket_bot.call(socket_bot.runtime.drain(10))
    assert [c.method for c in slack.calls[before:]] == []


def test_events_over_socket_mode_are_deduplicated(socket_bot: BotServer, slack: SlackFake) -> None:
    event = {"type": "event_callback", "event_id": "EvSOCK", "team_id": "T0123",
             "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0"}}
    acked(slack, slack.send_envelope("events_api", event))
    slack.wait_for("views.publish")
    acked(slack, slack.send_envelope("events_api", event, retry_attempt=1, retry_reason="timeout"))
    assert socket_bot.call(socket_bot.runtime.drain(10))
    assert len(slack.calls_to("views.publish")) == 1


def test_slack_out_of_reach_holds_neither_start_up_nor_sigterm(tmp_path: Path, slack: SlackFake,
                                                              heimdall: HeimdallEmulator) -> None:
    """Socket Mode with Slack unreachable: the bot starts, says it is not ready yet and why, retries with
    one warning line a time, and stops at once on SIGTERM."""
    import signal
    import subprocess

    import httpx

    from tests.e2e.harness import free_port, process_env

    closed = free_port()
    env = process_env(slack, heimdall, "unused", SLACK_APP_TOKEN=slack.app_token,
                      SLACK_API_URL=f"http://127.0.0.1:{closed}/api/")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--socket-mode", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # blocks until the first attempt to connect has failed
            log.append(line)
            if "Failed to connect" in line:
                break
        assert any("apikey-bot started (Socket mode)" in line for line in log), log
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["slack_socket"] == "connecting"
    finally:
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=15)[1]  # at once, not after the SDK's next retry
    failed = [line for line in log if "Failed to connect" in line]
    assert failed and "WARNING" in failed[0] and "Traceback" not in "".join(log)
    assert "apikey-bot stopped" in rest


def test_an_event_whose_handling_failed_is_left_for_slack_to_send_again(socket_bot: BotServer,
                                                                        slack: SlackFake) -> None:
    # Slack cut off while Bolt authorises the first event (before any listener): its handling failed.
    slack.fail("auth.test", status=DROP)
    event = {"type": "event_callback", "event_id": "EvLOST", "team_id": "T0123",
             "event": {"type": "app_home_opened", "user": "U0ALICE", "tab": "home", "channel": "D0"}}
    first = slack.send_envelope("events_api", event)
    slack.wait_for("auth.test", where=lambda c: c.result.get("error") == "connection_dropped")
    # The bot is still failing that envelope (and releasing its event id) when the fake has dropped the call:
    # Slack's retry comes after the envelope went unanswered, so wait for the bot to be done with it.
    socket_bot.call(asyncio.wait_for(socket_bot.runtime._acking.none.wait(), 10))
    # Slack sends an unacknowledged envelope again: that retry is handled, not skipped as a repeat
    acked(slack, slack.send_envelope("events_api", event, retry_attempt=1, retry_reason="timeout"))
    slack.wait_for("views.publish")
    assert socket_bot.call(socket_bot.runtime.drain(10))
    assert first not in slack.acks  # over HTTP this was a 5xx, which Slack retries; here, no ack
    assert len(slack.calls_to("views.publish")) == 1
