"""ASGI routes: `POST /slack/events` (commands, interactivity, events), health, readiness, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app import NOT_CHECKED, Runtime
from bot.collector import resume_collector
from bot.slack.front_door import FrontDoor
from bot.slack.guard import Rejection, is_ssl_check, parse_body
from bot.store import DatabaseUnusable
from bot.vault.operator import OperatorKeyUnavailable

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from bot.slack.socket_mode import CheckedSocketModeHandler

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
#: Slash commands and interactions (form bodies) are a few kB; a modal's state at most tens of kB.
MAX_BODY = 256 * 1024
#: Events API deliveries (JSON bodies) carry what people wrote: an edit of a 40,000-character message
#: (`message_changed`) holds its text four times (text and blocks, now and before), at up to 6 bytes a
#: character once JSON-escaped: about 1 MB. Still read in pieces and never held past this.
MAX_EVENT_BODY = 2 * 1024 * 1024
#: A request body must have arrived within this time (Slack sends a few kB at once).
BODY_SECONDS = 5.0
#: How long a shutdown waits for work still running after Slack was answered.
SHUTDOWN_GRACE = 20.0
#: The warm-up (what start-up left for later) starts when /readyz first answers ready, or this long after
#: start-up when nothing asks (Socket Mode, a deployment without a readiness probe).
WARM_UP_AFTER = 1.0


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, *, limit: int = MAX_BODY, seconds: float = BODY_SECONDS) -> bytes:
    """The body, read in pieces and never past `limit` (BodyTooLarge), within `seconds` (TimeoutError).

    A declared Content-Length over the limit is refused before anything is read; a chunked upload is
    refused as soon as it passes the limit, so no request can make the process hold more than that.
    """
    length = request.headers.get("content-length")
    if length is not None and (not (length.isascii() and length.isdigit()) or int(length) > limit):
        raise BodyTooLarge
    body = bytearray()
    async with asyncio.timeout(seconds):
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise BodyTooLarge
    return bytes(body)


def body_limit(content_type: str) -> int:
    """Events come as JSON, commands and interactions as forms: each kind gets the cap that fits it."""
    is_json = content_type.split(";", 1)[0].strip().lower() == "application/json"
    return MAX_EVENT_BODY if is_json else MAX_BODY


def _signed(verifier: SignatureVerifier | None, request: Request, body: bytes) -> bool:
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    # isascii: str.isdigit() also accepts digits such as "²", which int() then refuses.
    return (verifier is not None and timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
            and verifier.is_valid(body=body, timestamp=timestamp,
                                  signature=request.headers.get("x-slack-signature", "")))


def _report_connect_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the Socket Mode connection could not be made: %s", task.exception())


class _Once:
    """A background task started at most once (the warm-up); a failure is logged, never raised: whatever it
    did not load, the first request that needs it loads."""

    def __init__(self, work: Callable[[], Awaitable[None]] | None) -> None:
        self._work = work
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._work is not None and self._task is None:
            self._task = asyncio.create_task(self._run(self._work))

    async def _run(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except Exception:
            log.exception("the warm-up after start-up failed; requests load what they need themselves")

    async def stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def asgi_app(runtime: Runtime, bolt: AsyncApp, *, start: Callable[[], Awaitable[None]], socket_mode: bool = False,
             on_started: Callable[[], None] | None = None, on_fatal: Callable[[], None] | None = None,
             body_seconds: float = BODY_SECONDS, warm_up: Callable[[], Awaitable[None]] | None = None) -> Starlette:
    """The ASGI app around a Bolt app (`bolt`, built by `bot.compose`); `start` starts the runtime and its
    jobs. `on_fatal` is called when start-up cannot go on (the database is unusable; it has been logged);
    without it, the start-up fails with the exception. `warm_up` is run once in the background after
    start-up, when the bot first says it is ready (readiness first, then the warm-up: see WARM_UP_AFTER)."""
    door = FrontDoor(runtime, bolt)
    warming = _Once(warm_up)
    secret = runtime.settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret is not None else None

    async def events(request: Request) -> Response:
        if socket_mode:
            return PlainTextResponse("This bot runs in Socket Mode; it takes no HTTP events.", status_code=404)
        try:
            body = await read_body(request, limit=body_limit(request.headers.get("content-type", "")),
                                   seconds=body_seconds)
        except BodyTooLarge:
            return PlainTextResponse("Request body too large.", status_code=413, headers={"Connection": "close"})
        except TimeoutError:
            return PlainTextResponse("The request body took too long to arrive.", status_code=408,
                                     headers={"Connection": "close"})
        except ClientDisconnect:
            return PlainTextResponse("", status_code=400)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return PlainTextResponse("The request body is not UTF-8.", status_code=400)
        # The signature first (as Bolt would), so an unsigned request learns nothing about shapes.
        if not _signed(verifier, request, body):
            if is_ssl_check(body):
                return PlainTextResponse("", status_code=200)
            return PlainTextResponse("Invalid or stale Slack signature.", status_code=401)
        try:
            inbound = parse_body(text, request.headers.get("content-type", ""))
        except Rejection as exc:
            log.warning("rejected a signed request: %s", exc)
            return PlainTextResponse(str(exc), status_code=exc.status)
        with runtime.acknowledging():
            answer = await door.handle(inbound, dict(request.headers))
        return Response(status_code=answer.status, content=answer.body,
                        headers=answer.first_headers_without_set_cookie())

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    socket_handler: CheckedSocketModeHandler | None = None  # made at start-up in Socket Mode

    async def readyz(request: Request) -> Response:
        checks = await runtime.readiness()
        if socket_handler is not None:
            checks["slack_socket"] = "ok" if await socket_handler.client.is_connected() else "connecting"
        ready = all(v == "ok" or (name, v) == ("slack_token", NOT_CHECKED) for name, v in checks.items())
        if ready:
            warming.start()  # after this answer: the loop runs it once this handler has returned
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal socket_handler
        try:
            await start()
        except (DatabaseUnusable, OperatorKeyUnavailable) as exc:
            # One line that says what to fix, instead of a traceback and unclosed sessions.
            log.error("apikey-bot cannot start: %s", exc)
            await runtime.aclose()
            if on_fatal is None:
                raise
            on_fatal()
            yield  # the server stops at once (on_fatal asked it to)
            return
        runtime.check_slack_in_background()
        connecting: asyncio.Task[None] | None = None
        if socket_mode:
            # Deferred for start-up speed: Socket Mode's client (and its websocket stack) is not loaded in HTTP mode.
            from bot.slack.socket_mode import CheckedSocketModeHandler  # noqa: PLC0415

            token = runtime.settings.slack_app_token
            assert token is not None
            socket_handler = CheckedSocketModeHandler(door, token.get_secret_value())
            # Not awaited: while Slack cannot be reached the SDK retries every 10 s for ever, which would
            # hold start-up (and SIGTERM) with it. /readyz says "connecting" until the socket is up.
            connecting = asyncio.create_task(socket_handler.connect_async())  # type: ignore[no-untyped-call]
            connecting.add_done_callback(_report_connect_failure)
        # Everything loaded so far (modules, the app, the clients) lives as long as the process: kept
        # out of the collector's full passes, which otherwise stall every request for tens of ms.
        # (`apikey-bot serve` turned the collector off for start-up: this turns it back on.)
        resume_collector()
        fallback = asyncio.get_running_loop().call_later(WARM_UP_AFTER, warming.start)
        log.info("apikey-bot started (%s mode)", "Socket" if socket_mode else "HTTP")
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            # uvicorn has stopped taking requests and finished answering them; Slack work that goes on
            # after an ack (a create, a delivery) gets a bounded time to finish before clients close.
            fallback.cancel()
            await warming.stop()
            if connecting is not None and not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await connecting
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            await runtime.stop_scheduler()
            await runtime.drain(seconds=SHUTDOWN_GRACE)
            await runtime.aclose()
            log.info("apikey-bot stopped")

    return Starlette(
        routes=[
            Route(EVENTS_PATH, events, methods=["POST"]),
            Route(HEALTH_PATH, healthz, methods=["GET"]),
            Route(READY_PATH, readyz, methods=["GET"]),
            Route(METRICS_PATH, metrics, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
