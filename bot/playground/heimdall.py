"""A Heimdall emulator that follows ../shared/dataos-api.md, for tests, benchmarks and manual trials.

Run it on its own:  python -m bot.playground.heimdall --port 8900 --seed 3
Where DataOS's real behaviour is unknown the emulator has a switch (listing expired keys, duplicate
names, create status). Knobs for faults: per-request latency, a random error rate, and "fail the next
N calls" (before or after the call took effect, optionally hanging for a while first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aiohttp import web

from bot.logs import configure_logging
from bot.playground._server import ServerThread
from bot.playground.heimdall_model import (
    ADJECTIVES,
    ADVERBS,
    ANIMALS,
    GO_DURATION,
    KEY_NAME,
    LOCAL_OPERATOR_KEY,
    OPERATOR_ID,
    Call,
    CallLog,
    EmuToken,
    Fault,
    ceil_hour,
    make_key_value,
)

log = logging.getLogger(__name__)
CALLER = web.RequestKey("caller", dict)


@dataclass
class HeimdallEmulator:
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    list_expired: bool = True
    duplicate_mode: Literal["conflict", "replace"] = "conflict"
    create_status: int = 201
    delete_status: int = 204
    record_calls: bool = True
    seed: int = 0
    #: Told of every call once it was answered (the playground's inspector).
    observer: Callable[[Call], None] | None = None

    def __post_init__(self) -> None:
        self.users: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, EmuToken]] = {}
        self.by_key: dict[str, tuple[str, str]] = {}
        self.calls = CallLog()  # `calls.wait_for(...)`: a call in flight, event-driven
        self.faults: list[Fault] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.served = 0  # requests answered, counted even when calls are not recorded
        self._rng = random.Random(self.seed)
        self._lock = threading.RLock()
        self._server: ServerThread | None = None
        self.url = ""

    # ---- state ------------------------------------------------------------------------------

    def add_user(
        self, user_id: str, email: str | None = None, *, name: str | None = None,
        type: str = "person", tags: list[str] | None = None,
    ) -> dict[str, Any]:
        user = {
            "id": user_id, "name": name or user_id, "email": email, "type": type, "cid": uuid.uuid4().hex,
            "tags": tags if tags is not None else ["roles:id:user", f"users:id:{user_id}"],
            "properties": [], "federated_user_id": None, "federated_connector_id": None,
            "_links": {"self": f"/api/v1/users/{user_id}", "tokens": f"/api/v1/users/{user_id}/tokens"},
        }
        with self._lock:
            self.users[user_id] = user
            self.tokens.setdefault(user_id, {})
        return user

    def add_operator(self, user_id: str = OPERATOR_ID, key: str | None = None, hours: int = 24 * 365) -> str:
        """The bot's own application user, with the operator role; returns its key."""
        self.add_user(user_id, None, type="application",
                      tags=["roles:id:operator", "roles:id:app-user", f"users:id:{user_id}"])
        return self.add_token(user_id, "apikey_bot_operator", hours=hours, apikey=key).apikey

    def add_token(
        self, user_id: str, name: str | None = None, *, hours: int = 24, expiration: datetime | None = None,
        apikey: str | None = None, description: str | None = None,
    ) -> EmuToken:
        name = name or self.generate_name()
        now = self.clock()
        token = EmuToken(
            name=name, user_id=user_id, expiration=expiration or ceil_hour(now + timedelta(hours=hours)),
            apikey=apikey or make_key_value(name), description=description, created=now,
        )
        with self._lock:
            old = self.tokens.setdefault(user_id, {}).get(name)
            if old is not None:
                self.by_key.pop(old.apikey, None)
            self.tokens[user_id][name] = token
            self.by_key[token.apikey] = (user_id, name)
        return token

    def remove_token(self, user_id: str, name: str) -> bool:
        with self._lock:
            token = self.tokens.get(user_id, {}).pop(name, None)
            if token is not None:
                self.by_key.pop(token.apikey, None)
            return token is not None

    def generate_name(self) -> str:
        r = self._rng
        return f"token_{r.choice(ADVERBS)}_{r.choice(ADVERBS)}_{r.choice(ADJECTIVES)}_{r.choice(ANIMALS)}"

    def fail_next(
        self, count: int = 1, status: int | None = 503, *, delay: float = 0.0, after_effect: bool = False,
        match: str | None = None, retry_after: int | None = None, body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """The next `count` matching calls fail with `status` (None: answer normally after `delay`);
        with `body`, the answer is that body under that status."""
        with self._lock:
            fault = Fault(status, delay, after_effect, match, retry_after, body, headers)
            self.faults.extend(Fault(**vars(fault)) for _ in range(count))

    def calls_to(self, method: str, path_contains: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method and path_contains in c.path]

    # ---- serving ----------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        self._server = ServerThread(self.app, port=port)
        self.url = self._server.start() + "/heimdall"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=1024 * 1024)
        base = "/heimdall/api/v1"
        app.router.add_post(f"{base}/authorize", self._authorize)
        app.router.add_get(f"{base}/users", self._list_users)
        app.router.add_get(f"{base}/users/{{user_id}}", self._get_user)
        app.router.add_get(f"{base}/users/{{user_id}}/tokens", self._list_tokens)
        app.router.add_post(f"{base}/users/{{user_id}}/tokens", self._create_token)
        app.router.add_get(f"{base}/users/{{user_id}}/tokens/{{name}}", self._get_token)
        app.router.add_delete(f"{base}/users/{{user_id}}/tokens/{{name}}", self._delete_token)
        return app

    def _take_fault(self, signature: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.faults):
                if fault.match is None or fault.match in signature:
                    return self.faults.pop(i)
        if self.error_rate and self._rng.random() < self.error_rate:
            return Fault(self.error_status)
        return None

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = Call(request.method, request.path_qs, dict(request.headers), body)
        if self.record_calls:
            with self._lock:
                self.calls.append(call)
        self.served += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        started = time.perf_counter()
        response: web.StreamResponse | None = None
        try:
            response = await self._answer(request, handler, call)
            return response
        finally:
            self.in_flight -= 1
            if self.observer is not None:
                call.ms = (time.perf_counter() - started) * 1000
                call.status = call.status or (response.status if response is not None else 0)
                if isinstance(response, web.Response) and isinstance(response.body, bytes):
                    call.answer = response.body
                self.observer(call)

    async def _answer(self, request: web.Request, handler: Callable[[web.Request], Any],
                      call: Call) -> web.StreamResponse:
        if self.latency:
            await asyncio.sleep(self.latency)
        fault = self._take_fault(f"{request.method} {request.path_qs}")
        if fault is not None and not fault.after_effect:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                call.status = fault.status
                if fault.body is not None:
                    return web.Response(body=fault.body, status=fault.status, headers=fault.headers,
                                        content_type="application/json")
                return _error(fault.status, "injected failure", fault.retry_after)
        caller = self._caller(request)
        if isinstance(caller, web.Response):
            call.status = caller.status
            return caller
        request[CALLER] = caller
        response: web.StreamResponse = await handler(request)
        if fault is not None and fault.after_effect:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                response = _error(fault.status, "injected failure after the change was made")
        call.status = response.status
        return response

    def _caller(self, request: web.Request) -> dict[str, Any] | web.Response:
        key = request.headers.get("apikey")
        auth = request.headers.get("authorization", "")
        if not key and auth.lower().startswith("bearer "):
            key = auth[7:].strip()
        if not key:
            return _error(401, "missing credentials")
        owner = self.by_key.get(key)
        if owner is None:
            return _error(401, "unknown api key")
        token = self.tokens[owner[0]][owner[1]]
        if token.expiration <= self.clock():
            return _error(401, "api key expired")
        return self.users[owner[0]]

    def _may_manage(self, caller: dict[str, Any], user_id: str) -> bool:
        return bool(caller["id"] == user_id or "roles:id:operator" in caller["tags"])

    async def _authorize(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            return _error(400, "token is required")
        owner = self.by_key.get(body["token"])
        if owner is None or self.tokens[owner[0]][owner[1]].expiration <= self.clock():
            return web.json_response({"allow": False, "valid": False, "result": None})
        user = self.users[owner[0]]
        return web.json_response({"allow": True, "valid": True, "result": {"id": user["id"], "tags": user["tags"]}})

    async def _list_users(self, request: web.Request) -> web.Response:
        # DataOS answers one page of at most `limit` users; its SDKs assume 1,000 when none is sent.
        raw = request.query.get("limit", "")
        limit = int(raw) if raw.isascii() and raw.isdigit() else 1000
        return web.json_response(list(self.users.values())[:limit])

    async def _get_user(self, request: web.Request) -> web.Response:
        user = self.users.get(request.match_info["user_id"])
        return web.json_response(user) if user else _error(404, "user not found")

    def _user_or_error(self, request: web.Request) -> str | web.Response:
        user_id = request.match_info["user_id"]
        if user_id not in self.users:
            return _error(404, "user not found")
        if not self._may_manage(request[CALLER], user_id):
            return _error(403, "forbidden")
        return user_id

    async def _list_tokens(self, request: web.Request) -> web.Response:
        user_id = self._user_or_error(request)
        if isinstance(user_id, web.Response):
            return user_id
        now = self.clock()
        tokens = [t.wire() for t in self.tokens[user_id].values() if self.list_expired or t.expiration > now]
        return web.json_response(tokens)

    async def _get_token(self, request: web.Request) -> web.Response:
        user_id = self._user_or_error(request)
        if isinstance(user_id, web.Response):
            return user_id
        token = self.tokens[user_id].get(request.match_info["name"])
        return web.json_response(token.wire()) if token else _error(404, "token not found")

    async def _create_token(self, request: web.Request) -> web.Response:
        user_id = self._user_or_error(request)
        if isinstance(user_id, web.Response):
            return user_id
        body = await _json_body(request)
        if not isinstance(body, dict) or body.get("type") != "apikey":
            return _error(400, "type must be apikey")
        name = body.get("name") or None
        if name is not None and (not isinstance(name, str) or not KEY_NAME.match(name) or len(name) > 128):
            return _error(400, "invalid name")
        duration = body.get("duration") or "24h"
        match = GO_DURATION.match(duration) if isinstance(duration, str) else None
        if not match or not any(match.groups()):
            return _error(400, f"invalid duration {duration!r}")
        h, m, s = (int(g or 0) for g in match.groups())
        seconds = h * 3600 + m * 60 + s
        if seconds <= 0:
            return _error(400, "duration must be positive")
        with self._lock:
            existing = self.tokens[user_id].get(name) if name else None
            if existing is not None:
                if body.get("use_existing"):
                    return web.json_response(existing.wire(), status=200)
                if self.duplicate_mode == "conflict":
                    return _error(409, "token already exists")
            description = body.get("description")
            token = self.add_token(
                user_id, name, expiration=ceil_hour(self.clock() + timedelta(seconds=seconds)),
                description=description if isinstance(description, str) else None,
            )
        return web.json_response(token.wire(), status=self.create_status)

    async def _delete_token(self, request: web.Request) -> web.Response:
        user_id = self._user_or_error(request)
        if isinstance(user_id, web.Response):
            return user_id
        if not self.remove_token(user_id, request.match_info["name"]):
            return _error(404, "token not found")
        if self.delete_status == 204:
            return web.Response(status=204)
        return web.json_response({"status": 200, "message": "deleted"})


async def _json_body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read() or b"null")
    except ValueError:
        return None


def _error(status: int, message: str, retry_after: int | None = None) -> web.Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return web.json_response({"status": status, "message": message}, status=status, headers=headers)


def seed_people(emu: HeimdallEmulator, count: int, domain: str = "example.com") -> list[str]:
    """Persons `user00001 …` with e-mails `user00001@<domain>`; the first three get friendly names."""
    friendly = ["alice", "bob", "carol"]
    ids = []
    for i in range(count):
        user_id = friendly[i] if i < len(friendly) and count <= 10 else f"user{i + 1:05d}"
        emu.add_user(user_id, f"{user_id}@{domain}", name=user_id.title())
        ids.append(user_id)
    return ids


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Heimdall emulator on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--seed", type=int, default=3, help="number of person users to create")
    parser.add_argument("--operator-key", default=LOCAL_OPERATOR_KEY,
                        help=f"the bot's key (default {LOCAL_OPERATOR_KEY!r}: a name, not key-shaped, so the "
                             "log's redaction leaves it readable)")
    parser.add_argument("--keys-per-user", type=int, default=1)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every call")
    parser.add_argument("--hide-expired", action="store_true", help="leave expired keys out of lists")
    args = parser.parse_args(argv)

    emu = HeimdallEmulator(latency=args.latency, list_expired=not args.hide_expired)
    operator_key = emu.add_operator(key=args.operator_key)
    for user_id in seed_people(emu, args.seed):
        for _ in range(args.keys_per_user):
            emu.add_token(user_id, hours=24 * 30)
    url = emu.start(args.port)
    configure_logging("console", "INFO")
    # Through the logger, like everything the bot says: its redaction masks anything key-shaped.
    log.info("Heimdall emulator at %s", url)
    log.info("HEIMDALL_URL=%s", url)
    log.info("DATAOS_APIKEY=%s", operator_key)
    for user_id, user in list(emu.users.items())[:10]:
        log.info("  user %-12s %s", user_id, user["email"] or "(application)")
    log.info('Try: curl -H "apikey: $DATAOS_APIKEY" %s/api/v1/users/alice/tokens', url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emu.stop()


if __name__ == "__main__":
    main()
