"""Requests at the door: bodies too large or too slow, ambiguous or malformed requests, the word
"payload" in a command, Events API retries shared by replicas, and Slack's ssl_check.

Each test drives the bot over HTTP against the Slack and DataOS stand-ins."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    BotServer,
    SlackUser,
    free_port,
    make_settings,
    process_env,
    start_bot_process,
    text_of,
)

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def bot_settings() -> dict[str, Any]:
    return {"admin_slack_user_ids": ADMIN, "audit_channel": AUDIT, "renew_grace": "24h"}


@pytest.fixture
def errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    caplog.set_level(logging.WARNING)
    records: list[logging.LogRecord] = []
    yield records
    records += [r for r in caplog.records if r.levelno >= logging.ERROR]


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def reply(bot: Bot, n: int = 1) -> str:
    return text_of(bot.slack.wait_for("response_url", n)[n - 1])


# ---- 1. memory exhaustion by a chunked upload ----------------------------------------------------


def test_chunked_upload_of_300_mb_is_refused_early_and_memory_stays_flat(
        tmp_path: Path, slack: SlackFake, heimdall: HeimdallEmulator) -> None:
    port = free_port()
    env = process_env(slack, heimdall, "rss-secret")
    proc = start_bot_process(env, tmp_path, port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        before = rss_kib(proc.pid)
        sent, answer = _chunked_upload(port, total=300 * 1024 * 1024)
        after = rss_kib(proc.pid)
    finally:
        proc.terminate()
        proc.communicate(timeout=30)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:80]
    # refused within the first MB the bot read; the rest never left this test (kernel buffers hold a few MB)
    assert sent < 32 * 1024 * 1024, sent
    assert after - before < 5 * 1024, (before, after)


def _chunked_upload(port: int, total: int) -> tuple[int, bytes]:
    """Send an unsigned chunked body of up to `total` bytes; stop when the bot answers or hangs up."""
    chunk = b"a" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        sock.settimeout(5)
        sent = 0
        answer = b""
        while sent < total:
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                break
            sent += len(chunk)
            sock.setblocking(False)
            try:
                answer = sock.recv(4096)
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
                sock.settimeout(5)
            if answer:
                break
        if not answer:
            try:
                answer = sock.recv(4096)
            except (ConnectionResetError, TimeoutError):
                pass
        return sent, answer


def test_a_body_that_trickles_in_is_cut_off(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                            tmp_path: Path) -> None:
    settings = make_settings(slack, heimdall, str(tmp_path / "bot.db"))
    server = BotServer(settings, clock, body_seconds=0.3)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{\"type\":")  # ...and then nothing more
            sock.settimeout(10)  # waits for the bot's answer, not for time to pass
            answer = sock.recv(4096)
    finally:
        server.stop()
    assert answer.startswith(b"HTTP/1.1 408")


# ---- 4. the word "payload" in a slash command ----------------------------------------------------


def test_commands_containing_the_word_payload_work(bot: Bot) -> None:
    opened = bot.user.command_modal("create payload_loader")
    name = next(b for b in opened.params["view"]["blocks"] if b.get("block_id") == "name_block")
    assert name["element"]["initial_value"] == "payload_loader"
    form = {"command": "/apikey", "text": "list", "user_id": "U0ALICE", "user_name": "payload_person",
            "channel_id": "C0PAY", "channel_name": "payload-team", "team_id": "T0123",
            "response_url": bot.slack.response_url(), "trigger_id": "1.2.pay"}
    r = bot.user.post(urlencode(form), FORM)
    assert r.status_code == 200
    assert "Your DataOS API keys" in reply(bot) or "You have no DataOS API keys" in reply(bot)


# ---- 5. the guard and the listeners read the same request ---------------------------------------------


def click_payload(**extra: Any) -> dict[str, Any]:
    data = {"type": "block_actions", "user": {"id": "U0ALICE"}, "trigger_id": "1.2.c",
            "container": {"type": "message", "channel_id": "D0ALICE", "message_ts": "1.2"},
            "actions": [{"action_id": "list_keys", "value": "list", "block_id": "b"}]}
    data.update(extra)
    return data


@pytest.mark.parametrize(("body", "content_type"), [
    # repeated fields: the guard saw the first, Bolt used the last
    ("payload=" + quote(json.dumps(click_payload())) + "&payload=" + quote("{\"type\":\"block_actions\"}"), FORM),
    (urlencode({"command": "/apikey", "text": "list", "user_id": "U0ALICE"}) + "&user_id=U0BOB", FORM),
    # a body that is not what its content type says
    (json.dumps({"type": "event_callback", "event_id": "Ev1", "event": {"type": "app_home_opened"}}), FORM),
    ("command=%2Fapikey&user_id=U0ALICE&text=list", "application/json"),
])
def test_ambiguous_requests_get_400(bot: Bot, body: str, content_type: str,
                                    errors: list[logging.LogRecord]) -> None:
    r = bot.user.post(body, content_type)
    assert r.status_code == 400 and "Traceback" not in r.text
    assert bot.server.call(bot.runtime.drain(10))
    assert [c.method for c in bot.slack.calls if c.method != "auth.test"] == []  # auth.test: the start-up check


@pytest.mark.parametrize("extra", [
    {"container": "D0ALICE"},
    {"channel": 42},
    {"team": 7},
    {"view": "V1"},
    {"response_urls": ["https://x"]},
    {"actions": [{"action_id": "list_keys", "value": 5}]},
    {"actions": [{"action_id": "keys_page:next", "selected_option": "1"}]},
    {"authorizations": "T1"},
])
def test_payloads_of_the_right_type_but_wrong_shape_get_400(bot: Bot, extra: dict[str, Any],
                                                            errors: list[logging.LogRecord]) -> None:
    r = bot.user.post("payload=" + quote(json.dumps(click_payload(**extra))), FORM)
    assert r.status_code == 400 and "Traceback" not in r.text
    assert bot.server.call(bot.runtime.drain(10))
    assert errors == [] or not [e for e in errors if e.levelno >= logging.ERROR]


# ---- 6. requests that got a 500 with a traceback ---------------------------------------------------


def test_non_ascii_digit_timestamp_is_401(bot: Bot) -> None:
    stamp = ("\u00b2" * 3).encode()  # superscript two passes str.isdigit()
    r = bot.user.http.post("/slack/events", content=b"command=%2Fapikey", headers={
        "Content-Type": FORM, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + "0" * 64})
    assert r.status_code == 401 and "Traceback" not in r.text


def test_more_than_fifty_fields_is_400(bot: Bot) -> None:
    fields = {"command": "/apikey", "text": "list", "user_id": "U0ALICE", **{f"f{i}": "x" for i in range(60)}}
    r = bot.user.post(urlencode(fields), FORM)
    assert r.status_code == 400 and "Traceback" not in r.text


def test_json_nested_five_thousand_deep_is_400(bot: Bot, caplog: pytest.LogCaptureFixture) -> None:
    deep = "[" * 5000 + "]" * 5000
    as_payload = "payload=" + quote('{"type":"block_actions","user":{"id":"U0ALICE"},"x":' + deep + "}")
    as_event = '{"type":"event_callback","event_id":"Ev9","event":{"type":"app_home_opened","x":' + deep + "}}"
    almost = '{"type":"event_callback","event_id":"Ev8","event":{"type":"app_home_opened","x":' + \
        "[" * 900 + "]" * 900 + "}}"  # parses, but deeper than any Slack payload
    for body, kind in ((as_payload, FORM), (as_event, "application/json"), (almost, "application/json")):
        r = bot.user.post(body, kind)
        assert r.status_code == 400 and "Traceback" not in r.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_page_value_of_non_ascii_digits_answers_with_the_first_page(bot: Bot,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    bot.heimdall.add_token("alice", "paged", hours=48)
    r = bot.user.click("keys_page:next", "\u00b2")
    assert r.status_code == 200
    assert "paged" in reply(bot)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# ---- 7. Events API retries -------------------------------------------------------------------------


def deactivated(bot: Bot) -> dict[str, Any]:
    return {"type": "user_change", "user": dict(bot.slack.users["U0BOB"], deleted=True)}


def test_a_retry_of_an_event_that_never_arrived_is_handled_once(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.heimdall.add_token("bob", "left_behind", hours=72)
    # the first delivery was lost in a deploy: Slack's first retry is the first the bot sees
    assert bot.user.event(deactivated(bot), event_id="EvDEPLOY", retry=1).status_code == 200
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == ADMIN)
    assert "<@U0BOB> was deactivated" in text_of(dm[0])
    for n in (2, 3):  # later retries of the same event, and the original arriving late
        assert bot.user.event(deactivated(bot), event_id="EvDEPLOY", retry=n).status_code == 200
    assert bot.user.event(deactivated(bot), event_id="EvDEPLOY").status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    assert len([c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]) == 1


def test_event_ids_are_shared_by_replicas(slack: SlackFake, heimdall: HeimdallEmulator, clock: FakeClock,
                                          tmp_path: Path) -> None:
    slack.add_user(ADMIN, "admin@example.com")
    heimdall.add_token("bob", "left_behind", hours=72)
    settings = make_settings(slack, heimdall, str(tmp_path / "shared.db"), admin_slack_user_ids=ADMIN)
    servers = [BotServer(settings, clock), BotServer(settings, clock)]
    users: list[SlackUser] = []
    try:
        for server in servers:
            server.start()
            users.append(SlackUser(server, slack))
        event = {"type": "user_change", "user": dict(slack.users["U0BOB"], deleted=True)}
        assert users[0].event(event, event_id="EvTWO").status_code == 200
        assert users[1].event(event, event_id="EvTWO", retry=1).status_code == 200
        for server in servers:
            assert server.call(server.runtime.drain(10))
    finally:
        for user in users:
            user.close()
        for server in servers:
            server.stop()
    assert len([c for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == ADMIN]) == 1


# ---- 8. ssl_check ----------------------------------------------------------------------------------


def test_ssl_check_gets_an_empty_200_signed_or_not(bot: Bot) -> None:
    signed = bot.user.post("ssl_check=1&token=legacy", FORM)
    unsigned = bot.user.post("ssl_check=1&token=legacy", FORM, signature="v0=" + "0" * 64)
    for r in (signed, unsigned):
        assert r.status_code == 200 and r.text == ""
