"""Request signing, and proof that a key's value goes only where it may."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.logs import configure_logging
from bot.reminders.sweep import Sweeper
from tests.e2e.conftest import Bot
from tests.e2e.harness import create_values, revoke_value, text_of, view_id_of

PRIVATE_METHODS = {"chat.postEphemeral", "views.update", "views.open"}


def _form() -> str:
    return urlencode({"command": "/apikey", "text": "list", "user_id": "U0ALICE", "team_id": "T0123",
                      "channel_id": "C1", "response_url": "http://127.0.0.1:9/x", "trigger_id": "1.2.3"})


@pytest.mark.parametrize(
    "case",
    ["bad_signature", "stale_timestamp", "future_timestamp", "no_headers", "signed_other_body", "wrong_secret"],
)
def test_unsigned_or_stale_requests_get_401_and_change_nothing(bot: Bot, case: str) -> None:
    body = _form()
    now = int(time.time())
    kwargs: dict[str, str] = {}
    if case == "bad_signature":
        kwargs = {"signature": "v0=" + "0" * 64}
    elif case == "stale_timestamp":
        ts = str(now - 301)
        kwargs = {"timestamp": ts, "signature": bot.user.verifier.generate_signature(timestamp=ts, body=body)}
    elif case == "future_timestamp":
        ts = str(now + 3600)
        kwargs = {"timestamp": ts, "signature": bot.user.verifier.generate_signature(timestamp=ts, body=body)}
    elif case == "signed_other_body":
        kwargs = {"signature": bot.user.verifier.generate_signature(timestamp=str(now), body=body + "&x=1")}
    elif case == "wrong_secret":
        from slack_sdk.signature import SignatureVerifier

        kwargs = {"signature": SignatureVerifier("other").generate_signature(timestamp=str(now), body=body)}
    if case == "no_headers":
        r = bot.user.http.post("/slack/events", content=body,
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    else:
        r = bot.user.post(body, "application/x-www-form-urlencoded", **kwargs)
    assert r.status_code == 401
    assert "Traceback" not in r.text
    assert [c.method for c in bot.slack.calls if c.method != "auth.test"] == []
    assert [c for c in bot.heimdall.calls if "/tokens" in c.path] == []


def test_oversized_body_is_refused(bot: Bot) -> None:
    r = bot.user.post("text=" + "a" * 300_000, "application/x-www-form-urlencoded")
    assert r.status_code == 413


class RawRecords(logging.Handler):
    """Sees every record before any redaction (it is first on the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.getMessage(), str(record.exc_info or ""), record.exc_text or ""]
        parts += [f"{k}={v}" for k, v in record.__dict__.items() if k not in ("msg", "args", "exc_info")]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append(repr(record.exc_info[1]))
        self.texts.append(" ".join(parts))


@pytest.fixture
def debug_logs() -> Iterator[tuple[RawRecords, io.StringIO]]:
    stream = io.StringIO()
    configure_logging("json", "DEBUG", stream=stream)
    raw = RawRecords()
    root = logging.getLogger()
    root.handlers.insert(0, raw)
    yield raw, stream
    root.removeHandler(raw)
    configure_logging("console", "WARNING", stream=io.StringIO())


def test_secrets_reach_only_private_channels(bot: Bot, debug_logs: tuple[RawRecords, io.StringIO],
                                             tmp_path: Path) -> None:
    raw, stream = debug_logs
    # (a key made elsewhere, already there when the bot first lists alice's keys: its lifetime is unknown,
    # so its 1-day reminder is due in step 7)
    old = bot.heimdall.add_token("alice", "leak_old", hours=20).apikey
    # 1. a create whose DM delivery fails, then the "Show the key here" fallback
    bot.slack.fail("chat.postEphemeral", "channel_not_found")
    opened = bot.user.command_modal("create leak_a 7d")
    bot.user.submit(view_id_of(opened), create_values(name="leak_a", preset="168h"))
    bot.slack.wait_for("views.update", where=lambda c: "created" in text_of(c))
    bot.user.click("show_key_here", "leak_a", view_id=view_id_of(opened))
    secret_a = bot.heimdall.tokens["alice"]["leak_a"].apikey
    bot.slack.wait_for("views.update", where=lambda c: secret_a in text_of(c))
    # 2. a normal create, delivered by ephemeral DM
    opened_b = bot.user.command_modal("create leak_b 1d")
    bot.user.submit(view_id_of(opened_b), create_values(name="leak_b", preset="24h"))
    secret_b_call = bot.slack.wait_for("chat.postEphemeral", 2)[1]
    secret_b = bot.heimdall.tokens["alice"]["leak_b"].apikey
    assert secret_b in text_of(secret_b_call)
    # 3. a create whose answer is lost after DataOS made the key (retried with use_existing)
    bot.heimdall.fail_next(1, 502, after_effect=True, match="POST")
    opened_c = bot.user.command_modal("create leak_c 1d")
    bot.user.submit(view_id_of(opened_c), create_values(name="leak_c", preset="24h"))
    bot.slack.wait_for("views.update", where=lambda c: "Key *leak_c* created" in text_of(c))
    secret_c = bot.heimdall.tokens["alice"]["leak_c"].apikey
    # 4. list, reveal, revoke
    bot.user.command("list")
    bot.slack.wait_for("response_url")
    bot.user.click("reveal_key", "leak_b")
    bot.slack.wait_for("views.update", where=lambda c: secret_b in text_of(c) and "Your DataOS key" in text_of(c))
    bot.user.click("revoke_key", revoke_value(bot.heimdall.tokens["alice"]["leak_c"]))
    bot.slack.wait_for("response_url", 2)
    # 5. a failure right after a create: DataOS refuses the next create with 409 (its key is known)
    opened_d = bot.user.command_modal("create leak_a 1d")
    bot.user.submit(view_id_of(opened_d), create_values(name="leak_a", preset="24h"))
    bot.slack.wait_for("views.update", where=lambda c: "already" in text_of(c))
    # 6. /apikey link with a pasted key
    pasted = bot.heimdall.add_token("carol", "pasted", hours=48).apikey
    opened_l = bot.user.command_modal("link", user="U0DAVE")
    bot.user.submit(view_id_of(opened_l), {"link_block": {"pasted_key": {"type": "plain_text_input",
                                                                         "value": pasted}}}, user="U0DAVE")
    bot.slack.wait_for("views.update", where=lambda c: "linked to DataOS user" in text_of(c))

    # 7. a renewal from a reminder DM (the old key revoked at once)
    bot.server.call(Sweeper(bot.runtime).run())
    dm = next(c for c in bot.slack.delivered("chat.postMessage") if "leak_old" in text_of(c))
    renew = next(e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "reminder_renew")
    bot.user.click("reminder_renew", renew["value"], channel=dm.result["channel"], message_ts=dm.result["ts"],
                   ephemeral=False)
    opened_r = bot.slack.wait_for("views.open", where=lambda c: c.params["view"]["callback_id"] == "renew_key")[0]
    values = create_values(name="leak_new", preset="720h")
    values["old_key_block"] = {"old_key": {"type": "static_select", "selected_option": {"value": "now"}}}
    bot.user.submit(view_id_of(opened_r), values)
    bot.slack.wait_for("views.update", where=lambda c: "Key *leak_new* created" in text_of(c))
    renewed = bot.heimdall.tokens["alice"]["leak_new"].apikey
    assert "leak_old" not in bot.heimdall.tokens["alice"]

    secrets = [secret_a, secret_b, secret_c, pasted, old, renewed]
    # logs: neither the raw records nor the written output
    assert raw.texts, "the flows logged nothing at DEBUG: the capture is broken"
    for secret in secrets:
        assert not [t for t in raw.texts if secret in t]
        assert secret not in stream.getvalue()
    # database: every byte of the file and its write-ahead log
    db = Path(bot.runtime.settings.database_url.split("///", 1)[1])
    blobs = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert len(blobs) > 0
    for secret in secrets:
        assert secret.encode() not in blobs
    # Slack: only the private channels carried a secret, and never in metadata, values or URLs
    for call in bot.slack.calls:
        text = text_of(call)
        carried = [s for s in secrets if s in text]
        if carried:
            assert call.method in PRIVATE_METHODS, call.method
            view = call.params.get("view") or {}
            assert not [s for s in carried if s in str(view.get("private_metadata", ""))]
            buttons = json.dumps([e for b in (view.get("blocks") or call.params.get("blocks") or [])
                                  if b.get("type") == "actions" for e in b.get("elements", [])])
            assert not [s for s in carried if s in buttons]
    assert pasted not in json.dumps([c.params for c in bot.slack.calls])
    # metrics
    metrics = bot.user.http.get("/metrics").text
    for secret in secrets:
        assert secret not in metrics
