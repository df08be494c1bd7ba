"""Runs the real bot under uvicorn on a free port, and plays Slack's part: signed requests in, fakes out."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
import uvicorn
from slack_sdk.signature import SignatureVerifier
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Runtime
from bot.compose import create_web_app
from bot.config import Settings
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackCall, SlackFake
from bot.slack.blocks.common import exact_value
from tests.conftest import FakeClock

SIGNING_SECRET = "test-signing-secret"
T = TypeVar("T")


def make_settings(slack: SlackFake, heimdall: HeimdallEmulator, db_path: str, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": slack.token,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "heimdall_url": heimdall.url,
        "DATAOS_APIKEY": heimdall.operator_key,  # type: ignore[attr-defined]
        "database_url": f"sqlite+aiosqlite:///{db_path}",
        "dataos_timeout_seconds": 0.5,
        "reminders_enabled": False,  # tests run sweeps themselves, with the injected clock
        # A discovery's "Was this you?" DMs (issue #28) would add to the DMs other tests count; their own tests
        # (tests/e2e/test_new_key_notices.py) turn them on.
        "notice_new_keys": False,
    }
    values.update(extra)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


async def _no_wait(_: float) -> None:
    return None


class BotServer:
    def __init__(self, settings: Settings, clock: FakeClock, engine: AsyncEngine | None = None,
                 **web: Any) -> None:
        async def wait_out(seconds: float) -> None:  # a rate limit's wait passes on the test's clock
            clock.advance(seconds=seconds)

        self.runtime = Runtime(settings, clock=clock.now, monotonic=clock.monotonic, dataos_sleep=_no_wait,
                               slack_sleep=wait_out, engine=engine, timer=clock.timer)
        self._started = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        app = create_web_app(self.runtime, on_started=self._on_started, **web)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(1024)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def _on_started(self) -> None:
        self.loop = asyncio.get_running_loop()
        self._started.set()

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the bot's own event loop (where its clients and engine live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=60)

    def start(self) -> None:
        self._thread.start()
        if not self._started.wait(timeout=20):
            raise RuntimeError("the bot did not start")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self._sock.close()


class SlackUser:
    """Sends what Slack would send on a person's behalf, signed, over real HTTP."""

    _ids = itertools.count(1)

    def __init__(self, server: BotServer, slack: SlackFake) -> None:
        self.server = server
        self.slack = slack
        self.http = httpx.Client(base_url=server.url, timeout=30)  # a ceiling for a loaded machine, not a deadline
        self.verifier = SignatureVerifier(SIGNING_SECRET)

    def close(self) -> None:
        self.http.close()

    def post(self, body: str, content_type: str, *, timestamp: str | None = None,
             signature: str | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        ts = timestamp or str(int(time.time()))
        sig = signature or self.verifier.generate_signature(timestamp=ts, body=body)
        all_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig}
        all_headers.update(headers or {})
        return self.http.post("/slack/events", content=body.encode(), headers=all_headers)

    def command(self, text: str, user: str = "U0ALICE", channel: str = "C0456",
                trigger_id: str | None = None, response_url: str | None = None) -> httpx.Response:
        n = next(self._ids)
        form = {
            "token": "legacy", "team_id": "T0123", "team_domain": "acme", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": "/apikey",
            "text": text, "api_app_id": "A0ABC", "is_enterprise_install": "false",
            "response_url": response_url or self.slack.response_url("cmd"),
            "trigger_id": self.slack.trigger(trigger_id or f"{n}.{n}.trigger{n}"),
        }
        return self._checked("ack:command", self.post(urlencode(form), "application/x-www-form-urlencoded"))

    def _checked(self, kind: str, response: httpx.Response) -> httpx.Response:
        """What the bot answered over HTTP, checked as Slack checks it before showing it (an ack's
        message, a submission's view): a refusal is recorded on the fake and fails the test."""
        if response.status_code == 200 and response.content.strip():
            try:
                body = response.json()
            except ValueError:
                body = {"text": response.text}
            if isinstance(body, dict):
                self.slack.check_answer(kind, body)
        return response

    def command_modal(self, text: str, user: str = "U0ALICE") -> SlackCall:
        """Run a command that opens a modal; return the views.open call it made."""
        trigger = f"modal.{next(self._ids)}.{user}"
        assert self.command(text, user=user, trigger_id=trigger).status_code == 200
        return self.slack.wait_for(
            "views.open", where=lambda c: c.params.get("trigger_id") == trigger and c.result.get("ok") is True)[0]

    def event(self, event: dict[str, Any], *, event_id: str = "Ev0001", retry: int | None = None) -> httpx.Response:
        """An Events API delivery (JSON), optionally marked as Slack's retry number `retry`."""
        body = json.dumps({"token": "legacy", "team_id": "T0123", "api_app_id": "A0ABC", "type": "event_callback",
                           "event_id": event_id, "event_time": 1700000000, "event": event})
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(body, "application/json", headers=headers)

    def interact(self, payload: dict[str, Any]) -> httpx.Response:
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def submit(self, view_id: str, values: dict[str, dict[str, dict[str, Any]]], user: str = "U0ALICE",
               *, view_hash: str | None = None, metadata: str | None = None,
               as_view: dict[str, Any] | None = None) -> httpx.Response:
        """Submit the modal `view_id` as Slack shows it now (or as `as_view`, e.g. a stale copy)."""
        view = dict(as_view if as_view is not None else self.slack.views[view_id])
        submitted_hash = view.get("hash")
        view["state"] = {"values": values}
        if view_hash is not None:
            view["hash"] = view_hash
        if metadata is not None:
            view["private_metadata"] = metadata
        payload = {
            "type": "view_submission", "team": {"id": "T0123", "domain": "acme"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": "T0123"},
            "api_app_id": "A0ABC", "trigger_id": self.slack.trigger(f"sub.{next(self._ids)}"), "view": view,
            "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        }
        response = self._checked("ack:view_submission", self.interact(payload))
        if response.status_code == 200 and not response.content.strip():
            self.slack.close_view(view_id)  # Slack closes a modal whose submission is acknowledged empty
        elif response.status_code == 200 and as_view is None:
            answer = response.json()
            if isinstance(answer, dict) and not self.slack.unexpected_refusals():
                self.slack.submission_answered(view_id, answer, submitted_hash)  # "Creating…" replaces the form
        return response

    def type_in(self, view_id: str, values: dict[str, dict[str, dict[str, Any]]], block_id: str, action_id: str,
                user: str = "U0ALICE", *, as_view: dict[str, Any] | None = None) -> httpx.Response:
        """A change typed in the input `block_id`/`action_id` of the modal `view_id` (as Slack shows it now, or
        `as_view`): Slack sends it only for an input its block marks `dispatch_action`, with the view and
        every input's state."""
        view = dict(as_view if as_view is not None else self.slack.views[view_id], state={"values": values})
        block = next(b for b in view["blocks"] if b.get("block_id") == block_id)
        triggers = (block["element"].get("dispatch_action_config") or {}).get("trigger_actions_on") or []
        assert block.get("dispatch_action") and "on_character_entered" in triggers, "Slack would send nothing"
        n = next(self._ids)
        payload = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0123"},
            "team": {"id": "T0123", "domain": "acme"}, "api_app_id": "A0ABC",
            "trigger_id": self.slack.trigger(f"{n}.{n}.typed{n}"), "container": {"type": "view", "view_id": view_id},
            "view": view, "actions": [{"type": "plain_text_input", "action_id": action_id, "block_id": block_id,
                                       "value": values[block_id][action_id]["value"],
                                       "action_ts": f"1700000001.{n:06d}"}],
        }
        return self.interact(payload)
    def suggest(self, view_id: str, typed: str, user: str = "U0ALICE", *, action_id: str = "for",
                block_id: str = "for_block") -> list[dict[str, Any]]:
        """Type `typed` into the external select `action_id` of the open modal `view_id`: Slack sends the
        bot `block_suggestion` (only for an external select, as Slack does) and shows the options it answers,
        which are checked as Slack checks them. The options offered."""
        view = self.slack.views[view_id]
        element = next((b.get("element") for b in view.get("blocks") or [] if b.get("block_id") == block_id), None)
        external = isinstance(element, dict) and element.get("type") == "external_select"
        assert external and element.get("action_id") == action_id, (  # type: ignore[union-attr]
            f"Slack sends block_suggestion only for an external select: {element}")
        payload = {
            "type": "block_suggestion", "user": {"id": user, "username": user.lower(), "team_id": "T0123"},
            "team": {"id": "T0123", "domain": "acme"}, "api_app_id": "A0ABC", "token": "legacy",
            "container": {"type": "view", "view_id": view_id}, "action_id": action_id, "block_id": block_id,
            "value": typed, "view": dict(view, state={"values": {}}),
        }
        response = self._checked("ack:block_suggestion", self.interact(payload))
        assert response.status_code == 200
        options = response.json().get("options")
        return options if isinstance(options, list) else []

    def click(self, action_id: str, value: str, user: str = "U0ALICE", *, view_id: str | None = None,
              block_id: str = "b", channel: str = "C0456", message_ts: str = "1700000000.000100",
              ephemeral: bool = True) -> httpx.Response:
        n = next(self._ids)
        payload: dict[str, Any] = {
            "type": "block_actions", "user": {"id": user, "username": user.lower(), "team_id": "T0123"},
            "team": {"id": "T0123", "domain": "acme"}, "api_app_id": "A0ABC",
            "trigger_id": self.slack.trigger(f"{n}.{n}.click{n}"),
            "actions": [{"type": "button", "action_id": action_id, "block_id": block_id, "value": value,
                         "action_ts": "1700000001.000200"}],
        }
        if view_id is not None:
            payload["container"] = {"type": "view", "view_id": view_id}
            payload["view"] = dict(self.slack.views[view_id], state={"values": {}})
        else:
            payload["container"] = {"type": "message", "message_ts": message_ts, "channel_id": channel,
                                    "is_ephemeral": ephemeral}
            payload["channel"] = {"id": channel, "name": "directmessage" if channel.startswith("D") else "general"}
            payload["response_url"] = self.slack.response_url("action")
        return self.interact(payload)


def create_values(name: str | None = None, preset: str | None = "720h", custom: str | None = None,
                  ) -> dict[str, dict[str, dict[str, Any]]]:
    selected = None
    if preset is not None:
        selected = {"text": {"type": "plain_text", "text": preset}, "value": preset}
    return {
        "name_block": {"name": {"type": "plain_text_input", "value": name}},
        "validity_block": {"validity": {"type": "static_select", "selected_option": selected}},
        "custom_block": {"custom": {"type": "plain_text_input", "value": custom}},
    }


def revoke_value(token: Any) -> str:
    """The value of the Revoke button the bot draws for the emulator's `token`: that key exactly, name
    and expiration (what Slack sends back when it is pressed)."""
    return exact_value(token.name, token.expiration)


def text_of(call: SlackCall) -> str:
    """Everything a person could read in a recorded call (text, blocks, view), as one string."""
    return json.dumps(call.params, ensure_ascii=False)


@contextmanager
def running_bot(settings: Settings, clock: FakeClock, slack: SlackFake,
                engine: AsyncEngine | None = None) -> Iterator[tuple[BotServer, SlackUser]]:
    server = BotServer(settings, clock, engine)
    server.start()
    user = SlackUser(server, slack)
    try:
        yield server, user
    finally:
        user.close()
        server.stop()


def view_id_of(call: SlackCall) -> str:
    """The id Slack gave the view opened or updated by `call`."""
    return str(call.result["view"]["id"])


def table_rows(bot: Any, table: Any) -> list[dict[str, Any]]:
    """Every row of a table, read through a separate engine (as an operator's SQL client would)."""
    import sqlite3

    from sqlalchemy.engine import make_url

    path = make_url(bot.runtime.settings.database_url).database
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f"SELECT * FROM {table.__tablename__}").fetchall()
    return [_typed(dict(r)) for r in rows]


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    from datetime import datetime

    for key, value in row.items():
        if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in " T":
            try:
                row[key] = datetime.fromisoformat(value).replace(tzinfo=None)
            except ValueError:
                pass
    return row


def audit_actions(bot: Any) -> list[tuple[Any, ...]]:
    from bot.store.schema import AuditEntry

    return [(r["action"], r["outcome"], r["key_name"]) for r in table_rows(bot, AuditEntry)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_env(slack: SlackFake, heimdall: HeimdallEmulator, secret: str, **extra: str) -> dict[str, str]:
    """The environment of an `apikey-bot` process pointed at the fakes."""
    import os

    return {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONUNBUFFERED": "1", "SLACK_BOT_TOKEN": slack.token,
            "SLACK_SIGNING_SECRET": secret, "SLACK_API_URL": slack.api_url, "HEIMDALL_URL": heimdall.url,
            "DATAOS_APIKEY": heimdall.operator_key,  # type: ignore[attr-defined]
            "REMINDERS_ENABLED": "false", **extra}


def start_bot_process(env: dict[str, str], cwd: Any, port: int, *, startup_log: list[str] | None = None) -> Any:
    """`python -m bot serve` on 127.0.0.1:`port`, returned once it has logged that it started (its stderr,
    a text pipe, then holds the rest of its log; the lines up to "started" go to `startup_log`). The caller
    stops it."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                            env=env, cwd=cwd, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # blocks until the bot says it started
        if startup_log is not None:
            startup_log.append(line)
        if "apikey-bot started" in line:
            return proc
    proc.wait()
    raise AssertionError("the bot exited before it started")


def wait_for_log_line(proc: Any, text: str, *, timeout: float = 120.0) -> list[str]:
    """Read a started bot process's log (its stderr) until a line containing `text`, which is returned with
    the lines before it; the log is drained on meanwhile (a full pipe would stall the bot). Event-driven:
    the ceiling is only for a bot that never says it."""
    seen: list[str] = []
    said = threading.Event()

    def read() -> None:
        for line in proc.stderr:
            seen.append(line)
            if text in line:
                said.set()

    threading.Thread(target=read, name="bot-log", daemon=True).start()
    assert said.wait(timeout), f"the bot never logged {text!r}: {''.join(seen)[-2000:]}"
    return seen


def signed_command(port: int, secret: str, **fields: str) -> httpx.Response:
    """POST a signed `/apikey` command to a bot process on `port`."""
    body = urlencode({"command": "/apikey", "team_id": "T0123", "channel_id": "C1", "trigger_id": "1.2.3",
                      **fields})
    ts = str(int(time.time()))
    return httpx.post(f"http://127.0.0.1:{port}/slack/events", content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)})
