"""A fake of the Slack Web API (and of `response_url`s) that records every call.

Serves `POST /api/<method>` the way slack.com does (see ../shared/slack-payloads.md): `{"ok": true,…}`,
`{"ok": false, "error": …}` with HTTP 200 on failure, and HTTP 429 with `Retry-After` when asked to.
`POST /respond/<anything>` stands in for the `response_url`s of commands and buttons. The methods are
in `slack_methods`, the Socket Mode WebSocket in `slack_socket`.
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
from bot.playground.slack_methods import BOT_USER_ID as BOT_USER_ID  # the fake's public names, kept here
from bot.playground.slack_methods import TEAM_ID as TEAM_ID
from bot.playground.slack_methods import TRIGGER_SECONDS as TRIGGER_SECONDS
from bot.playground.slack_methods import WebApiMethods
from bot.playground.slack_socket import SocketModeSide

#: `fail(…, status=DROP)`: the connection is cut with no answer.
DROP = 0
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


class SlackFake(WebApiMethods, SocketModeSide):
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
        self.channels: dict[str, dict[str, Any]] = {}  # channels made with add_channel; others accept posts
        self.views: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}  # user groups made with add_usergroup
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

    # ---- state ------------------------------------------------------------------------------

    def add_user(
        self, user_id: str, email: str | None, *, tz: str = "Europe/Berlin", tz_offset: int = 3600,
        deleted: bool = False, is_bot: bool = False, name: str | None = None, team_id: str = TEAM_ID,
        is_restricted: bool = False, is_ultra_restricted: bool = False, is_stranger: bool = False,
    ) -> dict[str, Any]:
        """A member as `users.info`/`users.list` show them. Guests are `is_restricted` (multi-channel) or
        also `is_ultra_restricted` (single-channel); a Slack Connect member has another `team_id`, and
        Slack adds `is_stranger: true` for people from another organisation the workspace shares no
        channel with (the field is absent otherwise)."""
        user: dict[str, Any] = {
            "id": user_id, "team_id": team_id, "name": name or user_id.lower(), "deleted": deleted,
            "is_bot": is_bot, "is_restricted": is_restricted or is_ultra_restricted,
            "is_ultra_restricted": is_ultra_restricted, "tz": tz, "tz_offset": tz_offset,
            "profile": {"email": email, "real_name": name or user_id} if email else {"real_name": name or user_id},
        }
        if is_stranger:
            user["is_stranger"] = True
        self.users[user_id] = user
        return user

    def add_channel(self, channel_id: str, name: str, *, member: bool = True, private: bool = False,
                    archived: bool = False, ext_shared: bool = False,
                    connected_team_ids: list[str] | None = None) -> dict[str, Any]:
        """A channel Slack knows: posts need the bot in it (`not_in_channel`) and it not archived. Slack Connect:
        `ext_shared` (`is_ext_shared`), or `connected_team_ids` naming the organisations it is shared with
        (`is_shared`; this workspace's own id among them as Slack lists it)."""
        shared_with = [TEAM_ID, *connected_team_ids] if connected_team_ids else []
        channel = {"id": channel_id, "name": name, "is_channel": not private, "is_group": private,
                   "is_private": private, "is_archived": archived, "is_member": member,
                   "is_shared": ext_shared or bool(shared_with), "is_ext_shared": ext_shared,
                   "is_org_shared": False, "connected_team_ids": shared_with}
        self.channels[channel_id] = channel
        return channel

    def add_usergroup(self, group_id: str, handle: str, members: list[str]) -> dict[str, Any]:
        """A user group (`@handle`); `set_usergroup_members` changes who is in it, as an admin would."""
        group = {"id": group_id, "team_id": TEAM_ID, "handle": handle, "name": handle, "users": list(members)}
        self.usergroups[group_id] = group
        return group

    def set_usergroup_members(self, group_id: str, members: list[str]) -> None:
        with self._lock:
            self.usergroups[group_id]["users"] = list(members)

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

    def wait_for(self, method: str, count: int = 1, *, timeout: float = 10.0,
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

    def response_url(self, name: str = "cmd") -> str:
        return f"{self.url}/respond/{name}-{next(self._ids)}"

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
        call = SlackCall("response_url", body, dict(request.headers), result={"ok": True})
        call.result = self.respond(request.match_info["rest"], body) or call.result
        call.status = 200 if call.result.get("ok") else 404  # Slack's answer to a used or expired URL
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()
        self.recorded(call)
        return web.Response(status=call.status, text="ok" if call.status == 200 else str(call.result["error"]))

    def respond(self, token: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """What a post to a response_url does (nothing here: the calls are only recorded)."""
        return None

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
                with self._lock:
                    self.calls.append(call)
                    self._lock.notify_all()
                raise
        lost = failure is not None and failure.lost
        response = self._answer(method, params, request, None if lost else failure)
        call.result = json.loads(response.text or "{}")
        call.status = response.status
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()
        self.recorded(call)
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
        limited = self._rate_limited(method)
        if limited is not None:
            return web.json_response({"ok": False, "error": "ratelimited"}, status=429,
                                     headers={"Retry-After": str(limited)})
        auth = request.headers.get("Authorization", "")
        if method == "apps.connections.open":
            if auth != f"Bearer {self.app_token}":
                return _fail("invalid_auth")
            return web.json_response({"ok": True, "url": self.url.replace("http://", "ws://") + "/link"})
        if auth != f"Bearer {self.token}" and params.get("token") != self.token:
            return _fail("invalid_auth")
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return web.json_response({"ok": True})
        result: dict[str, Any] = handler(params)
        headers = {"x-oauth-scopes": self.scopes} if method == "auth.test" else {}
        return web.json_response(result, headers=headers)

    def _rate_limited(self, method: str) -> int | None:
        """Seconds to wait if `method` is over its rate limit now (the call is refused), else None."""
        if method not in self.rate_limits:
            return None
        calls, per = self.rate_limits[method]
        now = self.clock()
        with self._lock:
            recent = [t for t in self._recent.get(method, []) if t > now - per]
            if len(recent) >= calls:
                self._recent[method] = recent
                return max(1, math.ceil(recent[0] + per - now))
            recent.append(now)
            self._recent[method] = recent
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
