"""The Socket Mode side of the Slack fake: the WebSocket `apps.connections.open` hands out, the envelopes
a test sends on it, and the acknowledgements the bot sends back."""

from __future__ import annotations

import itertools
import json
import threading
import time
from typing import Any

from aiohttp import web

from bot.playground._server import ServerThread

#: How long a test waits for calls, sockets or acks to arrive (event-driven: a passing test never waits it
#: out, and a loaded machine gets the time it needs).
WAIT_CEILING = 30.0


class SocketModeSide:
    """Mixed into `SlackFake`, which sets these up."""

    sockets: list[web.WebSocketResponse]
    acks: dict[str, tuple[float, dict[str, Any]]]
    sent_at: dict[str, float]
    _ids: itertools.count[int]
    _lock: threading.Condition
    _server: ServerThread | None

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        """The WebSocket `apps.connections.open` hands out: sends envelopes, records their acks."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": len(self.sockets) + 1,
                                      "connection_info": {"app_id": "A0ABC"}}))
        with self._lock:
            self.sockets.append(ws)
            self._lock.notify_all()
        async for msg in ws:
            if msg.type != web.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            with self._lock:
                self.acks[str(data.get("envelope_id"))] = (time.monotonic(), data.get("payload") or {})
                self._lock.notify_all()
        return ws

    def wait_for_socket(self, count: int = 1, timeout: float = WAIT_CEILING) -> web.WebSocketResponse:
        deadline = time.monotonic() + timeout
        with self._lock:
            while len([s for s in self.sockets if not s.closed]) < 1 or len(self.sockets) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no WebSocket #{count} was opened")
                self._lock.wait(remaining)
            return self.sockets[-1]

    def send_envelope(self, kind: str, payload: dict[str, Any] | None = None, **extra: Any) -> str:
        """Send a Socket Mode envelope on the newest WebSocket; returns its envelope id."""
        assert self._server is not None
        ws = self.wait_for_socket()
        envelope_id = f"env-{next(self._ids)}"
        message = {"envelope_id": envelope_id, "type": kind, "accepts_response_payload": kind != "events_api",
                   "payload": payload, **extra}
        self.sent_at[envelope_id] = time.monotonic()
        self._server.run(ws.send_str(json.dumps(message)))
        return envelope_id

    def disconnect_socket(self) -> None:
        """Slack's `disconnect` envelope: the client must open a new connection and carry on."""
        assert self._server is not None
        ws = self.wait_for_socket()
        self._server.run(ws.send_str(json.dumps({"type": "disconnect", "reason": "refresh_requested"})))

    def wait_for_ack(self, envelope_id: str, timeout: float = WAIT_CEILING) -> tuple[float, dict[str, Any]]:
        """(seconds from sending to the ack, the ack's payload)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while envelope_id not in self.acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"envelope {envelope_id} was not acknowledged")
                self._lock.wait(remaining)
            at, payload = self.acks[envelope_id]
            return at - self.sent_at[envelope_id], payload
