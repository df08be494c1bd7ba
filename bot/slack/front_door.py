"""What HTTP and Socket Mode share once a request has been read and parsed: the shape check, the
de-duplication of Events API deliveries, and Bolt's dispatch of the very dict that was checked."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.metrics import SLACK_RATE_LIMITED, TRIGGER_DEADLINE
from bot.slack.guard import Inbound, Rejection, check_payload

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: How long Slack honours a trigger_id, from sending the request.
TRIGGER_SECONDS = 3.0
#: What of those the request's trip to the bot and the views.open's own trip may take.
TRIGGER_MARGIN = 0.5


class FrontDoor:
    def __init__(self, rt: Runtime, bolt: AsyncApp) -> None:
        self.rt = rt
        self.bolt = bolt

    async def handle(self, inbound: Inbound, headers: dict[str, Any]) -> BoltResponse:
        if inbound.kind == "ssl_check":
            return BoltResponse(status=200, body="")
        try:
            check_payload(inbound)
        except Rejection as exc:
            log.warning("rejected a signed %s: %s", inbound.kind, exc)
            return BoltResponse(status=exc.status, body=str(exc))
        if inbound.kind == "app_rate_limited":
            # Not for Bolt (it would answer 404): Slack only wants a 200, and the operator should know.
            SLACK_RATE_LIMITED.inc()
            log.warning("Slack is dropping this app's events for the minute starting %s (app_rate_limited: over "
                        "30,000 events an hour); commands and buttons still arrive",
                        inbound.payload.get("minute_rate_limited"))
            return BoltResponse(status=200, body="")
        event_id = str(inbound.payload["event_id"]) if inbound.kind == "event" else None
        if event_id is not None and not await self._first_delivery(event_id, headers):
            return BoltResponse(status=200, body="")
        try:
            # Bolt takes an already parsed body only in its "socket_mode" form. The mode switches off
            # nothing but Bolt's own signature check, which the HTTP front door has done already.
            request = AsyncBoltRequest(body=inbound.payload, headers=headers, mode="socket_mode")
        except Exception as exc:  # a shape Bolt's context builders trip on, that check_payload let through
            log.warning("rejected a signed %s Bolt could not read: %s", inbound.kind, type(exc).__name__)
            await self._release(event_id)
            return BoltResponse(status=400, body="Malformed request.")
        deadline = self._trigger_deadline(inbound)
        with _trigger_deadline(deadline):
            response = await self.bolt.async_dispatch(request)
        if response.status >= 500:
            await self._release(event_id)  # Slack retries a failed delivery: that retry must be handled
        return response

    def _trigger_deadline(self, inbound: Inbound) -> float | None:
        """When this request's trigger_id stops working: Slack allows 3 s from sending the request,
        and the bot's own answer (a views.open) needs its share of them."""
        if inbound.kind not in ("command", "interaction") or not inbound.payload.get("trigger_id"):
            return None
        return self.rt.monotonic() + TRIGGER_SECONDS - TRIGGER_MARGIN

    async def _first_delivery(self, event_id: str, headers: dict[str, Any]) -> bool:
        """Slack re-sends an event whose delivery it thinks failed; replicas share the record of what
        was taken, so each event is handled once, and a retry of one that never arrived is handled."""
        try:
            first = await self.rt.events.claim_event(event_id, self.rt.clock())
        except Exception as exc:  # without the database, handling twice beats losing an event
            log.warning("could not record event %s (%s); handling it anyway", event_id, type(exc).__name__)
            return True
        if not first:
            log.info("skipped a repeated delivery of event %s (retry %s, %s)", event_id,
                     _header(headers, "x-slack-retry-num"), _header(headers, "x-slack-retry-reason"))
        return first

    async def _release(self, event_id: str | None) -> None:
        if event_id is None:
            return
        try:
            await self.rt.events.release_event(event_id)
        except Exception as exc:
            log.warning("could not release event %s: %s", event_id, type(exc).__name__)


@contextlib.contextmanager
def _trigger_deadline(deadline: float | None) -> Iterator[None]:
    # The listener's task is made inside the dispatch and keeps a copy of this context.
    token = TRIGGER_DEADLINE.set(deadline)
    try:
        yield
    finally:
        TRIGGER_DEADLINE.reset(token)


def _header(headers: dict[str, Any], name: str) -> str:
    value = headers.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return str(value) if value is not None else "-"
