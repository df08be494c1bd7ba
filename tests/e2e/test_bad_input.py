"""A catalogue of malformed and hostile requests, and property-based tests over command text and view state.

Each request gets a 4xx or a polite answer: never a 500, a traceback, an unforeseen error, or a change
to anyone's keys or links.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.signature import SignatureVerifier

from bot.domain.keys import validate_key_name
from bot.store.schema import IdentityLink
from tests.e2e.conftest import Bot
from tests.e2e.harness import SIGNING_SECRET, create_values, table_rows

NOW = lambda: str(int(time.time()))  # noqa: E731
RESPONSE_URL = "RESPONSEURLPLACEHOLDER"  # replaced by a response_url of the Slack fake when sent
SIGN = SignatureVerifier(SIGNING_SECRET)
FORM = "application/x-www-form-urlencoded"


def command(text: str, **extra: str) -> str:
    fields = {"command": "/apikey", "text": text, "user_id": "U0ALICE", "team_id": "T0123", "channel_id": "C1",
              "response_url": RESPONSE_URL, "trigger_id": "1.2.hostile"}
    fields.update(extra)
    return urlencode({k: v for k, v in fields.items() if v is not None})


def payload(data: Any) -> str:
    return "payload=" + quote(json.dumps(data))


def view(callback: str = "create_key", values: Any = None, **extra: Any) -> dict[str, Any]:
    v = {"id": "VHOSTILE", "type": "modal", "callback_id": callback, "hash": "1.x", "private_metadata": "{}",
         "state": {"values": values if values is not None else create_values(name="ok_name")}}
    v.update(extra)
    return {"type": "view_submission", "user": {"id": "U0ALICE"}, "view": v}


def click(action_id: str, value: Any, **extra: Any) -> dict[str, Any]:
    data = {"type": "block_actions", "user": {"id": "U0ALICE"}, "trigger_id": "1.2.click",
            "container": {"type": "message", "channel_id": "D0ALICE", "message_ts": "1.2"},
            "response_url": RESPONSE_URL,
            "actions": [{"action_id": action_id, "value": value, "block_id": "b"}]}
    data.update(extra)
    return data


@dataclass
class Case:
    body: str | bytes
    content_type: str | None = FORM
    timestamp: Callable[[], str] = NOW
    signature: str | Callable[[str, str | bytes], str] | None = None  # None: correct signature
    expect: set[int] | None = None  # None: any 4xx or 200


def sig_for(ts: str, body: str | bytes) -> str:
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return SIGN.generate_signature(timestamp=ts, body=text)


UNAUTH = {401}
CATALOGUE: dict[str, Case] = {
    # signatures and timestamps
    "bad signature": Case(command("list"), signature="v0=" + "0" * 64, expect=UNAUTH),
    "stale timestamp": Case(command("list"), timestamp=lambda: str(int(time.time()) - 301), expect=UNAUTH),
    "future timestamp": Case(command("list"), timestamp=lambda: str(int(time.time()) + 301), expect=UNAUTH),
    "missing signature": Case(command("list"), signature="", expect=UNAUTH),
    "missing timestamp": Case(command("list"), timestamp=lambda: "", expect=UNAUTH),
    "timestamp not a number": Case(command("list"), timestamp=lambda: "yesterday", expect=UNAUTH),
    "wrong signature version": Case(command("list"), signature=lambda ts, b: sig_for(ts, b).replace("v0=", "v1="),
                                    expect=UNAUTH),
    "signature of another body": Case(command("list"), signature=lambda ts, b: sig_for(ts, command("whoami")),
                                      expect=UNAUTH),
    "signed with another secret": Case(command("list"), signature=lambda ts, b: SignatureVerifier("x")
                                       .generate_signature(timestamp=ts, body=str(b)), expect=UNAUTH),
    "upper-case signature": Case(command("list"), signature=lambda ts, b: "v0=" + sig_for(ts, b)[3:].upper(),
                                 expect=UNAUTH),
    # bodies and content types
    "text/plain": Case("hello", content_type="text/plain", expect={415}),
    "xml": Case("<a/>", content_type="application/xml", expect={415}),
    "no content type": Case(command("list"), content_type=None, expect={415}),
    "truncated form": Case(payload(view())[:40], expect={400}),
    "truncated json": Case('{"type": "event_callback", "ev', content_type="application/json", expect={400}),
    "oversized": Case("text=" + "a" * 300_000, expect={413}),
    "not utf-8": Case(b"payload=\xff\xfe\xfa", expect={400}),
    "payload not json": Case("payload=%7Bnope", expect={400}),
    "payload is a list": Case(payload([1, 2]), expect={400}),
    "payload is a string": Case(payload("hi"), expect={400}),
    "payload of an unhandled type": Case(payload({"type": "shortcut", "user": {"id": "U0ALICE"}}), expect={404}),
    "json of an unhandled type": Case('{"type": "app_deleted"}', content_type="application/json",
                                      expect={404}),
    "app_rate_limited of the wrong shape": Case('{"type": "app_rate_limited", "minute_rate_limited": "soon"}',
                                                content_type="application/json", expect={400}),
    "event without event": Case('{"type": "event_callback"}', content_type="application/json", expect={400}),
    # slash commands
    "command without user": Case(command("list", user_id=""), expect={400}),
    "another command": Case(command("list", command="/other"), expect={404}),
    "text too long": Case(command("x" * 4001), expect={400}),
    "long garbage text": Case(command("§" * 3000)),
    "null bytes": Case(command("list\x00\x00")),
    "path traversal revoke": Case(command("revoke ../../etc/passwd")),
    "sql-looking name": Case(command("create '; DROP TABLE audit_log; -- 30d")),
    "full-width name": Case(command("create ＡＢＣ 30d")),
    "cyrillic look-alike": Case(command("create аdmin 30d")),
    "enormous validity": Case(command("create ok 99999999999d")),
    "float validity": Case(command("create ok 1e309")),
    "unknown slack user": Case(command("list", user_id="U0NOBODY")),
    # form submissions
    "unknown callback": Case(payload(view(callback="nope")), expect={404}),
    "submission without state": Case(payload({"type": "view_submission", "user": {"id": "U0ALICE"},
                                              "view": {"id": "V1", "type": "modal", "callback_id": "create_key"}}),
                                     expect={400}),
    "name of the wrong type": Case(payload(view(values={"name_block": {"name": {"value": ["x"]}},
                                                        "validity_block": {"validity": {"selected_option": {
                                                            "value": "24h"}}}}))),
    "selected option of the wrong type": Case(payload(view(values={"validity_block": {"validity": {
        "selected_option": "720h"}}}))),
    "preset not offered": Case(payload(view(values=create_values(name="x", preset="999999h")))),
    "custom validity in scientific notation": Case(payload(view(values=create_values(preset="custom",
                                                                                      custom="1e9d")))),
    "script in name": Case(payload(view(values=create_values(name="<script>alert(1)</script>")))),
    "look-alike name": Case(payload(view(values=create_values(name="аdmin")))),
    "zero-width name": Case(payload(view(values=create_values(name="ad\u200bmin")))),
    "metadata too long": Case(payload(view(private_metadata="x" * 3001)), expect={400}),
    "revoke another user's key via metadata": Case(payload(view(callback="revoke_key", values={},
                                                                private_metadata='{"name": "bobs_key"}'))),
    "link with a bogus key": Case(payload(view(callback="link_identity", values={"link_block": {"pasted_key": {
        "value": "' OR 1=1 --"}}}))),
    # buttons
    "unknown action": Case(payload(click("zzz", "x")), expect={404}),
    "no actions": Case(payload(click("reveal_key", "x", actions=[])), expect={400}),
    "no user": Case(payload({"type": "block_actions", "actions": [{"action_id": "reveal_key"}]}), expect={400}),
    "value too long": Case(payload(click("reveal_key", "x" * 2001)), expect={400}),
    "reveal another user's key": Case(payload(click("reveal_key", "bobs_key"))),
    "revoke another user's key": Case(payload(click("revoke_key", "bobs_key"))),
    "revoke another user's exact key": Case(payload(click("revoke_key", json.dumps({"k": "bobs_key", "e": 1})))),
    "revoke value damaged": Case(payload(click("revoke_key", '{"k":"x","e":"soon"}'))),
    "admin revoke by a non-admin": Case(payload(click("admin_revoke", json.dumps({"k": "bobs_key", "e": 1,
                                                                                  "u": "bob"})))),
    "revoke all by a non-admin": Case(payload(click("admin_revoke_all", '{"u":"bob","s":"U0BOB","p":"1/1",'
                                                                        '"d":"0123456789ab"}'))),
    "revoke picked with a forged option": Case(payload(view(callback="revoke_key", values={"revoke_pick_block": {
        "revoke_pick": {"type": "static_select", "selected_option": {"value": "1:bobs_key"}}}}))),
    "reminder revoke forged": Case(payload(click("reminder_revoke", json.dumps({"k": "bobs_key", "e": 1, "h": 0})))),
    "reminder value damaged": Case(payload(click("reminder_mute", "{{{"))),
    "page far away": Case(payload(click("keys_page:next", "99999999"))),
    "page negative": Case(payload(click("keys_page:prev", "-1"))),
    # found by the outside review (#12)
    "timestamp of superscript digits": Case(command("list"), timestamp=lambda: "\u00b2\u00b3", expect=UNAUTH),
    "more than fifty fields": Case(command("list", **{f"f{i}": "x" for i in range(60)}), expect={400}),
    "repeated payload field": Case(payload(click("list_keys", "list")) + "&" + payload({"type": "block_actions"}),
                                   expect={400}),
    "repeated command field": Case(command("list") + "&user_id=U0BOB", expect={400}),
    "json sent as a form": Case(json.dumps({"type": "event_callback", "event_id": "E1", "event": {"type": "x"}}),
                                expect={400}),
    "form sent as json": Case(command("list"), content_type="application/json", expect={400}),
    "command and payload together": Case(command("list") + "&" + payload(click("list_keys", "x")), expect={400}),
    "payload nested 5000 deep": Case("payload=" + quote('{"type":"block_actions","x":' + "[" * 5000 + "]" * 5000
                                                        + "}"), expect={400}),
    "event nested 5000 deep": Case('{"type":"event_callback","event_id":"E2","event":' + "[" * 5000 + "]" * 5000
                                   + "}", content_type="application/json", expect={400}),
    "event nested 100 deep": Case('{"type":"event_callback","event_id":"E3","event":{"type":"x","y":'
                                  + "[" * 100 + "]" * 100 + "}}", content_type="application/json", expect={400}),
    "container as a string": Case(payload(click("list_keys", "x", container="D0ALICE")), expect={400}),
    "channel as a number": Case(payload(click("list_keys", "x", channel=5)), expect={400}),
    "team as a list": Case(payload(click("list_keys", "x", team=["T1"])), expect={400}),
    "response_urls of strings": Case(payload(click("list_keys", "x", response_urls=["https://x"])), expect={400}),
    "authorizations as a string": Case(payload(click("list_keys", "x", authorizations="T1")), expect={400}),
    "action value a number": Case(payload(click("reveal_key", 5)), expect={400}),
    "view of a click as a string": Case(payload(click("show_key_here", "x", view="V1")), expect={400}),
    "user_change with user a string": Case(json.dumps({"type": "event_callback", "event_id": "E4",
                                                       "event": {"type": "user_change", "user": "U0BOB"}}),
                                           content_type="application/json", expect={400}),
    "event without an id": Case(json.dumps({"type": "event_callback", "event": {"type": "app_home_opened",
                                                                                 "user": "U0ALICE"}}),
                                content_type="application/json", expect={400}),
    "page of superscript digits": Case(payload(click("keys_page:next", "\u00b2"))),
    "ssl check": Case("ssl_check=1&token=legacy", expect={200}),
    "ssl check unsigned": Case("ssl_check=1&token=legacy", signature="v0=" + "0" * 64, expect={200}),
    "command with the word payload": Case(command("create payload_loader 30d", channel_name="payload-team")),
    "mrkdwn in extra words": Case(command("create mykey 30d extra <!here> <https://evil.example|x>")),
}


def send(bot: Bot, case: Case) -> Any:
    ts = case.timestamp()
    if case.signature is None:
        signature = sig_for(ts, case.body)
    elif callable(case.signature):
        signature = case.signature(ts, case.body)
    else:
        signature = case.signature
    headers: dict[str, Any] = {"X-Slack-Request-Timestamp": ts.encode(), "X-Slack-Signature": signature}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type
    body = case.body
    if isinstance(body, str):
        real = bot.slack.response_url()
        body = body.replace(RESPONSE_URL, quote(real, safe=""))  # both contexts are form-decoded once
    ts_sig = sig_for(ts, body) if case.signature is None else signature
    headers["X-Slack-Signature"] = ts_sig
    content = body if isinstance(body, bytes) else body.encode()
    return bot.user.http.post("/slack/events", content=content, headers=headers)


def snapshot(bot: Bot) -> Any:
    keys = {uid: sorted(tokens) for uid, tokens in bot.heimdall.tokens.items()}
    return keys, table_rows(bot, IdentityLink)


def test_catalogue_is_large_enough() -> None:
    assert len(CATALOGUE) >= 40


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_bad_input(bot: Bot, name: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    bot.heimdall.add_token("bob", "bobs_key", hours=72)
    bot.heimdall.add_token("alice", "alices_key", hours=72)
    before = snapshot(bot)
    case = CATALOGUE[name]
    response = send(bot, case)
    assert response.status_code != 500 and "Traceback" not in response.text
    if case.expect is not None:
        assert response.status_code in case.expect, response.text
    else:
        assert response.status_code == 200 or 400 <= response.status_code < 500
    assert bot.server.call(bot.runtime.drain(10)), "work for this request did not finish"
    assert snapshot(bot) == before
    everything = json.dumps([c.params for c in bot.slack.calls], ensure_ascii=False)
    assert "Something went wrong" not in everything
    assert bot.heimdall.tokens["bob"]["bobs_key"].apikey not in everything
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


SAFE_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=SAFE_TEXT)
def test_any_command_text_gets_an_answer_and_changes_no_key(bot: Bot, text: str) -> None:
    before = {uid: sorted(t) for uid, t in bot.heimdall.tokens.items()}
    response = send(bot, Case(command(text)))
    assert response.status_code == 200
    assert bot.server.call(bot.runtime.drain(10))
    assert {uid: sorted(t) for uid, t in bot.heimdall.tokens.items()} == before
    assert "Something went wrong" not in json.dumps([c.params for c in bot.slack.calls])


STATE_VALUE = st.one_of(st.none(), SAFE_TEXT, st.integers(), st.lists(st.text(max_size=3), max_size=2),
                        st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=STATE_VALUE, preset=st.one_of(st.none(), st.sampled_from(["24h", "720h", "custom", "0h", "x"]),
                                          SAFE_TEXT), custom=STATE_VALUE)
def test_any_create_form_state_is_validated(bot: Bot, name: Any, preset: Any, custom: Any) -> None:
    selected = {"value": preset} if preset is not None else None
    values = {"name_block": {"name": {"type": "plain_text_input", "value": name}},
              "validity_block": {"validity": {"type": "static_select", "selected_option": selected}},
              "custom_block": {"custom": {"type": "plain_text_input", "value": custom}}}
    before = sum(len(t) for t in bot.heimdall.tokens.values())
    response = send(bot, Case(payload(view(values=values, hash=f"h{time.monotonic_ns()}"))))
    if response.status_code == 400:  # a value of the wrong type is refused at the door, before any listener
        assert not all(isinstance(v, str | None) for v in (name, custom, preset))
        assert sum(len(t) for t in bot.heimdall.tokens.values()) == before
        return
    assert response.status_code == 200
    answer = response.json()
    assert answer["response_action"] in ("errors", "update")
    assert bot.server.call(bot.runtime.drain(10))
    created = sum(len(t) for t in bot.heimdall.tokens.values()) - before
    if answer["response_action"] == "errors":
        assert created == 0
    else:  # accepted: only a valid name (or none) and a valid validity can get this far
        assert isinstance(name, str | None) and created == 1
        validate_key_name(name)
    assert "Something went wrong" not in json.dumps([c.params for c in bot.slack.calls])
