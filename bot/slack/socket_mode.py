"""Socket Mode through the same front door as HTTP: each envelope's payload is shape-checked and
de-duplicated exactly like a request body before Bolt sees it, and every envelope is acknowledged
(an envelope left unacknowledged is re-sent by Slack), except an event whose handling failed: like a
5xx over HTTP, that is left for Slack to send again."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import send_async_response
from slack_bolt.adapter.socket_mode.internals import build_headers
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.proxies import use_proxy_rule
from bot.slack.front_door import FrontDoor
from bot.slack.guard import MAX_DEPTH, Inbound, Kind, too_deep

log = logging.getLogger(__name__)
KINDS: dict[str, Kind] = {"slash_commands": "command", "interactive": "interaction", "events_api": "event"}


class CheckedSocketModeHandler(AsyncSocketModeHandler):
    def __init__(self, door: FrontDoor, app_token: str) -> None:
        super().__init__(door.bolt, app_token)
        self.door = door
        # The WebSocket goes where the Web API goes (the same company proxy, or none): Slack's WebSocket
        # hosts sit beside its API host, and NO_PROXY entries name them together (`.slack.com`).
        use_proxy_rule(self.client, door.rt.settings.slack_api_url)

    async def handle(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        started = time.time()
        kind = KINDS.get(str(req.type))
        payload: Any = req.payload
        if kind is None or not isinstance(payload, dict) or too_deep(payload, MAX_DEPTH):
            log.warning("acknowledged and dropped a Socket Mode envelope of type %s", str(req.type)[:32])
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        with self.door.rt.acknowledging():
            response = await self.door.handle(Inbound(kind, payload), dict(build_headers(req) or {}))
        if kind == "event" and response.status >= 500:
            # As over HTTP (a 5xx): the event's id was released, and an envelope left unacknowledged is
            # sent again by Slack, so the event is handled by that retry instead of being lost.
            log.warning("left a Socket Mode event envelope unacknowledged so that Slack sends it again")
            return
        if response.status != 200:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await send_async_response(client, req, response, started)
