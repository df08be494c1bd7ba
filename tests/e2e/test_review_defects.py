"""The defects an outside review found (issue #12), each reproduced over HTTP the way it was found.

Every test here failed on the code before the fix.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest

from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.sweep import Sweeper
from bot.store.schema import AuditEntry, IdentityLink, ScheduledRevocation
from tests.conftest import FakeClock
from tests.e2e.conftest import Bot
from tests.e2e.harness import (
    BotServer,
    SlackUser,
    audit_actions,
    create_values,
    free_port,
    make_settings,
    process_env,
    revoke_value,
    start_bot_process,
    table_rows,
    text_of,
    view_id_of,
)

ADMIN = "U0ADMIN"
AUDIT = "C0AUDIT"
FORM = "application/x-www-form-urlencoded"
WED_1430 = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


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


# ---- 2. a scheduled revoke must not delete a newer key of the same name -----------------------------


def test_scheduled_revoke_leaves_a_new_key_with_the_old_name_alone(bot: Bot) -> None:
    bot.clock._now = WED_1430
    bot.heimdall.add_token("alice", "ci_loader", expiration=WED_1430 + timedelta(days=5))
    bot.server.call(Sweeper(bot.runtime).run())
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if "ci_loader" in text_of(c))
    renew = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "reminder_renew")
    bot.user.click("reminder_renew", renew["value"], channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    opened = bot.slack.wait_for("views.open")[0]
    values = create_values(name="ci_loader_v2", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "in:24"}}}
    bot.user.submit(view_id_of(opened), values)
    bot.slack.wait_for("views.update", where=lambda c: "will be revoked" in text_of(c))
    assert [r["key_expiration"] is not None for r in table_rows(bot, ScheduledRevocation)] == [True]
    # Meanwhile the person revokes the old key and makes a new one under the same name.
    bot.heimdall.remove_token("alice", "ci_loader")
    newer = bot.heimdall.add_token("alice", "ci_loader", hours=24 * 60)
    bot.clock.advance(hours=24)
    summary = bot.server.call(Sweeper(bot.runtime).run())
    assert bot.heimdall.tokens["alice"]["ci_loader"].apikey == newer.apikey  # still there
    assert summary.revoked_later == 0 and summary.skipped["scheduled revoke: key changed"] == 1
    assert ("revoke", "skipped: key changed", "ci_loader") in audit_actions(bot)
    assert [r["state"] for r in table_rows(bot, ScheduledRevocation)] == ["skipped"]
    bot.clock.advance(hours=24)  # the schedule has ended: nothing is tried again
    bot.server.call(Sweeper(bot.runtime).run())
    assert "ci_loader" in bot.heimdall.tokens["alice"]


# ---- 3. links to application users and to the bot's own user ---------------------------------------


def reply(bot: Bot, n: int = 1) -> str:
    return text_of(bot.slack.wait_for("response_url", n)[n - 1])


def test_admin_cannot_link_a_person_to_the_bot_or_an_application_user(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.heimdall.add_user("etl_app", None, type="application")
    bot.user.command("admin link <@U0BOB|bob> apikey-bot", user=ADMIN)
    assert "the bot's own DataOS user" in reply(bot) and "Nothing was linked" in reply(bot)
    bot.user.command("admin link <@U0BOB|bob> etl_app", user=ADMIN)
    assert "is an application user" in reply(bot, 2) and "Nothing was linked" in reply(bot, 2)
    assert table_rows(bot, IdentityLink) == []
    bot.user.command("list", user="U0BOB")
    operator_secret = bot.heimdall.operator_key  # type: ignore[attr-defined]
    assert operator_secret not in reply(bot, 3)
    assert "apikey_bot_operator" not in reply(bot, 3)
    assert [a for a in audit_actions(bot) if a[0] == "admin link"] == [
        ("admin link", "refused:operator", None), ("admin link", "refused:application", None)]


def test_self_link_checks_users_the_directory_does_not_know_yet(bot: Bot) -> None:
    bot.user.command("whoami", user="U0DAVE")  # the directory is loaded now
    reply(bot)
    bot.heimdall.add_user("late_app", None, type="application")  # made after the directory was loaded
    key = bot.heimdall.add_token("late_app", "late_key", hours=48).apikey
    bot.user.command("link", user="U0DAVE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}},
                    user="U0DAVE")
    result = bot.slack.wait_for("views.update", where=lambda c: "Nothing was linked" in text_of(c)
                                or "now linked" in text_of(c))[0]
    assert "is an application user" in text_of(result)
    assert table_rows(bot, IdentityLink) == []


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


# ---- 9. text nobody in this project wrote, in mrkdwn --------------------------------------------------


HOSTILE = "<!channel> <https://evil.example|renew> <@U0BOB> <#C0GEN> & friends"


def raw_mentions(text: str) -> list[str]:
    return [m for m in ("<!channel", "<!here", "<https://evil", "<@U0BOB", "<#C0GEN") if m in text]


def test_typed_extras_do_not_reach_the_form_unescaped(bot: Bot) -> None:
    opened = bot.user.command_modal("create mykey 30d extra <!here> <https://evil.example|x>")
    assert raw_mentions(text_of(opened)) == []
    assert "&lt;!here&gt;" in text_of(opened)


def test_audit_channel_lines_escape_names_from_dataos(bot: Bot) -> None:
    hostile = bot.heimdall.add_token("alice", HOSTILE, hours=48)
    bot.user.click("revoke_key", revoke_value(hostile))
    line = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == AUDIT)[0]
    assert raw_mentions(line.params["text"]) == []
    assert "&lt;!channel&gt;" in line.params["text"]
    assert HOSTILE not in bot.heimdall.tokens["alice"]


def test_not_mapped_message_escapes_the_slack_email(bot: Bot) -> None:
    bot.slack.add_user("U0EVE", "<!channel>@example.com")
    bot.user.command("list", user="U0EVE")
    assert raw_mentions(reply(bot)) == [] and "&lt;!channel&gt;@example.com" in reply(bot)


# ---- 10. builders on large inputs ------------------------------------------------------------------


def test_long_names_and_ids_from_dataos_still_render_and_work(bot: Bot) -> None:
    long_name = "k" * 400
    bot.heimdall.add_token("alice", long_name, hours=48)
    bot.user.command("list")
    listed = bot.slack.wait_for("response_url")[0]
    buttons = [e for b in listed.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    reveal = next(e for e in buttons if e["action_id"] == "reveal_key")
    revoke = next(e for e in buttons if e["action_id"] == "revoke_key")
    assert len(reveal["value"]) <= 150 and len(revoke["value"]) <= 200
    bot.user.command_modal("revoke")
    picker = bot.slack.wait_for("views.update", where=lambda c: "Which key?" in text_of(c))[0]
    options = next(b for b in picker.params["view"]["blocks"] if b["type"] == "input")["element"]["options"]
    assert all(len(o["value"]) <= 150 and len(o["text"]["text"]) <= 75 for o in options)
    bot.user.click("reveal_key", reveal["value"])  # the reference finds the key
    secret = bot.heimdall.tokens["alice"][long_name].apikey
    bot.slack.wait_for("views.update", where=lambda c: secret in text_of(c))
    bot.user.click("revoke_key", revoke["value"])
    bot.slack.wait_for("response_url", 2)
    assert long_name not in bot.heimdall.tokens["alice"]


def test_admin_keys_of_a_long_user_id_render(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    long_id = "u" * 300
    bot.heimdall.add_user(long_id, "long@example.com")
    bot.slack.add_user("U0LONG", "long@example.com")
    bot.heimdall.add_token(long_id, "x" * 200, hours=48)
    bot.server.call(bot.runtime.directory.refresh())
    bot.user.command("admin keys <@U0LONG>", user=ADMIN)
    text = reply(bot)
    assert "Something went wrong" not in text and "Revoke" in text


# ---- 11. e-mail matching without Unicode case folding ---------------------------------------------


def test_a_look_alike_email_does_not_match(bot: Bot) -> None:
    bot.heimdall.add_user("karl", "karl@example.com")
    bot.slack.add_user("U0KELVIN", "\u212aarl@example.com")
    bot.heimdall.add_token("karl", "karls_key", hours=48)
    bot.server.call(bot.runtime.directory.refresh())
    bot.user.command("list", user="U0KELVIN")
    assert "karls_key" not in reply(bot) and "No DataOS user has the e-mail address" in reply(bot)
    bot.slack.add_user("U0KARL", "KARL@example.com")  # ASCII case still does not matter
    bot.user.command("list", user="U0KARL")
    assert "karls_key" in reply(bot, 2)


# ---- 12. a link that takes over someone's DataOS user -------------------------------------------------


def test_self_link_over_an_email_match_tells_the_matched_person(bot: Bot) -> None:
    alice_key = bot.heimdall.add_token("alice", "alices", hours=48).apikey
    bot.user.command("link", user="U0DAVE")
    opened = bot.slack.wait_for("views.open")[0]
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input",
                                                                      "value": alice_key}}}, user="U0DAVE")
    bot.slack.wait_for("views.update", where=lambda c: "now linked" in text_of(c))
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0ALICE")[0]
    assert "Slack user <@U0DAVE> linked themselves to your DataOS user `alice`" in text_of(dm)
    assert "This was not me" in text_of(dm) and "tell your admins" in text_of(dm)
    audit = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == AUDIT
                               and "link takeover" in c.params["text"])[0]
    assert "U0ALICE" in audit.params["text"]
    bot.user.command("whoami", user="U0ALICE")
    assert "<@U0DAVE> (linked themselves)" in reply(bot)
    bot.user.command("whoami", user="U0DAVE")
    assert "<@U0ALICE> (by e-mail)" in reply(bot, 2)
    assert [r["outcome"] for r in table_rows(bot, AuditEntry) if r["action"] == "link takeover"] == ["told"]


def test_admin_link_over_an_email_match_tells_the_matched_person(bot: Bot) -> None:
    bot.slack.add_user(ADMIN, "admin@example.com")
    bot.user.command("admin link <@U0DAVE|dave> bob", user=ADMIN)
    assert "now linked" in reply(bot)
    dm = bot.slack.wait_for("chat.postMessage", where=lambda c: c.params.get("channel") == "U0BOB")[0]
    assert f"A platform admin (<@{ADMIN}>) linked Slack user <@U0DAVE> to your DataOS user `bob`" in text_of(dm)


def test_linking_your_own_user_tells_nobody(bot: Bot) -> None:
    key = bot.heimdall.add_token("alice", "mine", hours=48).apikey
    bot.user.command("link")
    opened = bot.slack.wait_for("views.open")[0]
    bot.user.submit(view_id_of(opened), {"link_block": {"pasted_key": {"type": "plain_text_input", "value": key}}})
    bot.slack.wait_for("views.update", where=lambda c: "now linked" in text_of(c))
    assert bot.server.call(bot.runtime.drain(10))
    assert [c for c in bot.slack.calls_to("chat.postMessage") if c.params.get("channel") != AUDIT] == []
