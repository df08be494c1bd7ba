"""A fake of the Slack Web API (and of `response_url`s) that records every call.

Serves `POST /api/<method>` the way slack.com does (see ../shared/slack-payloads.md): `{"ok": true,…}`,
`{"ok": false, "error": …}` with HTTP 200 on failure, and HTTP 429 with `Retry-After` when asked to.
`POST /respond/<token>` stands in for the `response_url`s of commands and buttons (`urls`). The
methods are in `methods`, the Socket Mode WebSocket in `socket`.

It is as strict as Slack, in every test: what Slack refuses (`rules`: Block Kit that slack_sdk's
models or Slack's documented limits refuse, a sixth post to a response_url, an update of a message that
is not the bot's) it refuses the same way, and it keeps each such refusal in `refused`, which the test
fixtures check at teardown: a test whose bot sent what Slack would refuse fails unless it says it expects
that refusal (`expect_refusals`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.playground._server import ServerThread
from bot.playground.slack.directory import BOT_USER_ID as BOT_USER_ID  # the fake's public names, kept here
from bot.playground.slack.directory import TEAM_ID as TEAM_ID
from bot.playground.slack.functions import FunctionsSide
from bot.playground.slack.grid import GridOrg
from bot.playground.slack.methods import TRIGGER_SECONDS as TRIGGER_SECONDS
from bot.playground.slack.methods import WebApiMethods
from bot.playground.slack.rules import Refusal, message_refusal, options_refusal, view_refusal
from bot.playground.slack.socket import WAIT_CEILING, SocketModeSide
from bot.playground.slack.urls import ResponseUrl, ResponseUrls

#: `fail(…, status=DROP)`: the connection is cut with no answer.
DROP = 0
#: Slack's answers to what an app should never send: kept in `SlackFake.refused`, and a test fails on them.
MALFORMED = frozenset({"invalid_blocks", "invalid_arguments", "msg_too_long", "msg_blocks_too_long", "no_text",
                       "used_url", "cant_update_message", "invalid_options", "parameter_validation_failed",
                       "execution_not_in_running_state"})
#: Methods whose message or view Slack checks before anything else.
MESSAGE_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.scheduleMessage"})
VIEW_METHODS = frozenset({"views.open", "views.push", "views.update", "views.publish"})
DEFAULT_SCOPES = ("commands,chat:write,im:write,users:read,users:read.email,channels:read,groups:read,"
                  "usergroups:read")


@dataclass
class SlackCall:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)
    result: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    clock: float | None = None  # when, on the fake's own clock (the one triggers and rate limits use)


@dataclass
class Failure:
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    #: The call is carried out (a DM is delivered), then the connection drops before the answer: the
    #: caller cannot know whether it happened.
    lost: bool = False


class SlackFake(GridOrg, WebApiMethods, SocketModeSide, ResponseUrls, FunctionsSide):
    def __init__(self, token: str = "xoxb-test-token", scopes: str = DEFAULT_SCOPES,
                 app_token: str = "xapp-1-test-app-token", clock: Callable[[], float] = time.monotonic) -> None:
        self.token = token
        # Tier 2, as Slack rates users.list: about 20 calls a minute, then 429 with Retry-After.
        self.rate_limits: dict[str, tuple[int, float]] = {"users.list": (20, 60.0)}
        self.clock = clock
        self._recent: dict[str, list[float]] = {}
        self.app_token = app_token
        # Socket Mode: the open WebSockets (newest last), and the acknowledgements received, by envelope id
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: dict[str, tuple[float, dict[str, Any]]] = {}
        self.sent_at: dict[str, float] = {}
        self.scopes = scopes
        self.calls: list[SlackCall] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.workspaces: dict[str, dict[str, Any]] = {}  # an Enterprise Grid organisation's (`make_org`)
        self.channels: dict[str, dict[str, Any]] = {}  # channels made with add_channel; no other exists
        self.views: dict[str, dict[str, Any]] = {}
        # What the bot posted (chat.postMessage), by (channel, ts): chat.update finds it here, or refuses.
        self.posted: dict[tuple[str, str], dict[str, Any]] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.url_clock: Callable[[], float] = clock
        # Calls Slack refused as malformed (MALFORMED), and the errors a test says it expects.
        self.refused: list[SlackCall] = []
        self.expected_refusals: set[str] = set()
        self.usergroups: dict[str, dict[str, Any]] = {}  # user groups made with add_usergroup
        self.executions = {}  # Workflow Builder step executions (`functions`), by function_execution_id
        self.step_messages = {}  # (channel, ts) of a message a step posted -> its execution
        self.failures: dict[str, list[Failure]] = {}
        self.used_triggers: set[str] = set()
        self.trigger_made: dict[str, float] = {}  # trigger_id -> when Slack made it (on `clock`)
        self.held: dict[str, tuple[int, int]] = {}  # method -> (calls to let through first, calls to hold)
        self._release: asyncio.Event | None = None
        self.page_size = 200
        self._ids = itertools.count(1)
        self._lock = threading.Condition(threading.RLock())
        self._server: ServerThread | None = None
        self.url = ""

    # ---- state (members, channels and user groups are `directory`'s) ----------------------

    def trigger(self, trigger_id: str) -> str:
        """A trigger_id Slack makes for a command or an interaction it is sending now: views.open
        accepts it once, within TRIGGER_SECONDS of the fake's clock."""
        with self._lock:
            self.trigger_made[trigger_id] = self.clock()
        return trigger_id

    def close_view(self, view_id: str) -> None:
        """The person's modal closed (an empty ack of its submission): later views.update find nothing."""
        with self._lock:
            self.views.pop(view_id, None)

    def submission_answered(self, view_id: str, body: dict[str, Any], submitted_hash: str | None = None) -> None:
        """What Slack does with a submission's answer: `update` replaces the modal (with a new hash, so a
        redraw the bot sends later with the old hash is refused), `clear` closes it; `errors` keeps it.
        `submitted_hash`: the modal's hash when it was submitted. Slack applies the answer before anything the
        bot sends after it; a test's client may pass it on later than that, so an answer whose modal was
        already updated since the submission is one Slack applied first, and the later update stands."""
        action = body.get("response_action")
        with self._lock:
            current = self.views.get(view_id)
            if current is None or (submitted_hash is not None and current.get("hash") != submitted_hash):
                return
            if action == "update" and isinstance(body.get("view"), dict):
                self._store_view(body["view"], view_id)
            elif action == "clear":
                self.views.pop(view_id, None)

    def fail(self, method: str, error: str | None = "internal_error", *, status: int = 200,
             retry_after: int | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` fail: an `ok: false` error, an HTTP status (429, 5xx), or
        (status DROP) a connection closed with no answer at all."""
        with self._lock:
            self.failures.setdefault(method, []).extend(
                Failure(error, status, retry_after) for _ in range(times)
            )

    def lose_answer(self, method: str, times: int = 1) -> None:
        """The next `times` calls of `method` are carried out (a DM reaches its person), but the connection
        drops before the answer is sent: the caller sees a disconnection and cannot tell."""
        with self._lock:
            self.failures.setdefault(method, []).extend(Failure(lost=True) for _ in range(times))

    def hold(self, method: str, times: int = 1, *, after: int = 0) -> None:
        """After `after` more calls, the next `times` calls of `method` get no answer, as if Slack hung.

        If the caller gives up (its task is cancelled, its connection closes), the call is recorded
        with `result == {"ok": False, "error": "caller_went_away"}`: it was never delivered.
        """
        with self._lock:
            self.held[method] = (after, times)

    def release(self) -> None:
        """Let every held call go on (answered as usual)."""
        assert self._server is not None
        self._server.run(self._let_go())

    async def _let_go(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release.set()

    def delivered(self, method: str) -> list[SlackCall]:
        """Calls of `method` that Slack answered with ok: what people actually received."""
        return [c for c in self.calls if c.method == method and c.result.get("ok") is True]

    def calls_to(self, method: str) -> list[SlackCall]:
        return [c for c in self.calls if c.method == method]

    def wait_for(self, method: str, count: int = 1, *, timeout: float = WAIT_CEILING,
                 where: Callable[[SlackCall], bool] | None = None) -> list[SlackCall]:
        """Block until `count` matching calls were recorded (event-driven, not a sleep)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                calls = [c for c in self.calls if c.method == method and (where is None or where(c))]
                if len(calls) >= count:
                    return calls
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.method for c in self.calls]
                    raise AssertionError(f"timed out waiting for {count} {method} call(s); saw {seen}")
                self._lock.wait(remaining)

    def responses(self) -> list[dict[str, Any]]:
        """Bodies posted to response_urls."""
        return [c.params for c in self.calls if c.method == "response_url"]

    # ---- serving ----------------------------------------------------------------------------

    def start(self) -> str:
        self._server = ServerThread(self.app)
        self.url = self._server.start()
        return self.url

    @property
    def api_url(self) -> str:
        return self.url + "/api/"

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{rest}", self._respond)
        app.router.add_get("/link", self._socket)
        return app

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        token = request.match_info["rest"]
        with self._lock:
            answer = self.url_answer(token, body if isinstance(body, dict) else {})
        call = SlackCall("response_url", body, dict(request.headers), status=answer.status, clock=self.clock())
        if answer.error is None:
            call.result = {"ok": True, "effect": answer.effect}
            call.result = self.respond(token, body, answer.effect) or call.result
        else:
            call.result = {"ok": False, "error": answer.error, "response_metadata": {"messages": list(answer.messages)}}
        self._record(call)
        return web.Response(status=call.status, text="ok" if call.result.get("ok") else str(call.result["error"]))

    def respond(self, token: str, body: dict[str, Any], effect: str) -> dict[str, Any] | None:
        """What a post Slack took does (`effect`: "added", "replaced" or "deleted"; nothing here: the calls
        are only recorded)."""
        return None

    def _record(self, call: SlackCall) -> None:
        with self._lock:
            self.calls.append(call)
            if call.result.get("error") in MALFORMED:
                self.refused.append(call)
            self._lock.notify_all()
        self.recorded(call)

    def expect_refusals(self, *errors: str) -> None:
        """This test means the bot to get these refusals (e.g. "used_url"): the teardown check lets them be."""
        self.expected_refusals.update(errors)

    def unexpected_refusals(self) -> list[SlackCall]:
        """Calls Slack refused as malformed that the test did not expect: what real Slack would have lost."""
        with self._lock:
            return [c for c in self.refused if c.result.get("error") not in self.expected_refusals]

    def check_refusals(self) -> None:
        """Fail (AssertionError) if the bot sent anything Slack would have refused and the test did not
        expect it; says which call and Slack's reasons."""
        refused = self.unexpected_refusals()
        if refused:
            lines = [f"{c.method}: {c.result.get('error')} {c.result.get('response_metadata', {}).get('messages', [])}"
                     for c in refused[:5]]
            raise AssertionError("Slack would have refused what the bot sent (a test that means it: "
                                 "slack.expect_refusals(...)):\n" + "\n".join(lines))

    def check_answer(self, kind: str, body: dict[str, Any]) -> Refusal | None:
        """Check what the bot answered Slack over HTTP (an ack's message, or a submission's view), as Slack
        checks it before showing it; a refusal is recorded as a call of `kind` (e.g. "ack:view")."""
        action = body.get("response_action")
        refusal = (options_refusal(body) if kind == "ack:block_suggestion" else
                   view_refusal(body.get("view")) if action in ("update", "push") else
                   message_refusal(body) if action is None else None)
        if refusal is not None:
            self._record(SlackCall(kind, body, {}, result=refusal.answer(), clock=self.clock()))
        return refusal

    def recorded(self, call: SlackCall) -> None:
        """Called after each call is recorded (the playground's inspector listens here)."""

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await _params(request)
        call = SlackCall(method, params, dict(request.headers), clock=self.clock())
        with self._lock:
            pending = self.failures.get(method)
            failure = pending.pop(0) if pending else None
            let_through, to_hold = self.held.get(method, (0, 0))
            held = to_hold > 0 and let_through == 0
            if to_hold > 0:
                self.held[method] = (let_through - 1, to_hold) if let_through else (0, to_hold - 1)
        if held:
            if self._release is None:
                self._release = asyncio.Event()
            with self._lock:
                self.calls.append(SlackCall("held:" + method, params, dict(request.headers)))
                self._lock.notify_all()
            try:
                await self._release.wait()
            except asyncio.CancelledError:
                call.result = {"ok": False, "error": "caller_went_away"}
                self._record(call)
                raise
        lost = failure is not None and failure.lost
        response = self._answer(method, params, request, None if lost else failure)
        call.result = json.loads(response.text or "{}")
        call.status = response.status
        self._record(call)
        if lost and request.transport is not None:
            request.transport.abort()  # done, and the answer never leaves: the caller sees the connection drop
        return response

    def _answer(self, method: str, params: dict[str, Any], request: web.Request,
                failure: Failure | None) -> web.Response:
        if failure is not None and failure.status == DROP:
            if request.transport is not None:
                request.transport.abort()  # the connection is gone before any answer, as in a network fault
            return web.json_response({"ok": False, "error": "connection_dropped"}, status=599)
        if failure is not None:
            if failure.status != 200:
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return web.json_response({"ok": False, "error": failure.error or "ratelimited"},
                                         status=failure.status, headers=headers)
            return _fail(failure.error or "internal_error")
        limited = self._rate_limited(method, self.rate_key(method, params))
        if limited is not None:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(limited)})
        auth = request.headers.get("Authorization", "")
        if method == "apps.connections.open":
            if auth != f"Bearer {self.app_token}":
                return _fail("invalid_auth")
            return web.json_response({"ok": True, "url": self.url.replace("http://", "ws://") + "/link"})
        used = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else str(params.get("token") or "")
        if used != self.token and not self.function_token_allows(used):
            return _fail("invalid_auth")  # an unknown token, or a function token after its execution ended
        refusal = (message_refusal(params) if method in MESSAGE_METHODS else
                   view_refusal(params.get("view")) if method in VIEW_METHODS else None)
        if refusal is not None:  # Slack checks the Block Kit first: the message or view is lost
            return web.json_response(refusal.answer())
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": True})
        with self._lock:
            self.token_used = used
            result: dict[str, Any] = handler(params)
        headers = {"x-oauth-scopes": self.scopes} if method == "auth.test" else {}
        return web.json_response(result, headers=headers)

    def _rate_limited(self, method: str, key: str) -> int | None:
        """Seconds to wait if `method` is over its rate limit now (the call is refused), else None. `key`
        is what the limit counts per (the method; on an organisation token, the method in one workspace)."""
        if method not in self.rate_limits:
            return None
        calls, per = self.rate_limits[method]
        now = self.clock()
        with self._lock:
            recent = [t for t in self._recent.get(key, []) if t > now - per]
            if len(recent) >= calls:
                self._recent[key] = recent
                return max(1, math.ceil(recent[0] + per - now))
            recent.append(now)
            self._recent[key] = recent
        return None


async def _params(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    data: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        data.update(json.loads(raw or b"{}"))
    else:
        data.update(parse_qsl(raw.decode()))
    for key in ("view", "blocks", "attachments"):
        if isinstance(data.get(key), str):
            try:
                data[key] = json.loads(data[key])
            except ValueError:
                pass
    return dict(data)


def _fail(error: str) -> web.Response:
    return web.json_response({"ok": False, "error": error})
