"""ASGI routes: `POST /slack/events` (commands, interactivity, events), health, readiness, metrics."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.app import Runtime, build_bolt_app
from bot.slack.guard import Rejection, check_body

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
#: Slack's payloads are a few kB; anything far larger is not from Slack.
MAX_BODY = 256 * 1024
#: How long a shutdown waits for work still running after Slack was answered.
SHUTDOWN_GRACE = 20.0


def create_web_app(runtime: Runtime, *, socket_mode: bool = False,
                   on_started: Callable[[], None] | None = None) -> Starlette:
    bolt = build_bolt_app(runtime, socket_mode=socket_mode)
    handler = AsyncSlackRequestHandler(bolt)
    secret = runtime.settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret is not None else None

    async def events(request: Request) -> Response:
        if socket_mode:
            return PlainTextResponse("This bot runs in Socket Mode; it takes no HTTP events.", status_code=404)
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return PlainTextResponse("Request body too large.", status_code=413)
        body = await request.body()
        if len(body) > MAX_BODY:
            return PlainTextResponse("Request body too large.", status_code=413)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return PlainTextResponse("The request body is not UTF-8.", status_code=400)
        # The signature first (as Bolt would), so an unsigned request learns nothing about shapes.
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if verifier is None or not timestamp.isdigit() or len(timestamp) > 12 or not verifier.is_valid(
            body=body, timestamp=timestamp, signature=request.headers.get("x-slack-signature", "")
        ):
            return PlainTextResponse("Invalid or stale Slack signature.", status_code=401)
        try:
            check_body(body, request.headers.get("content-type", ""))
        except Rejection as exc:
            log.warning("rejected a signed request: %s", exc)
            return PlainTextResponse(str(exc), status_code=exc.status)
        if request.headers.get("x-slack-retry-num"):
            # Slack re-sends an event it thinks we missed (often only because the first answer was slow);
            # the first delivery is being handled already, so a retry must not do the work twice.
            log.info("ignored Events API retry %s (%s)", request.headers.get("x-slack-retry-num"),
                     request.headers.get("x-slack-retry-reason", "?"))
            return PlainTextResponse("", status_code=200)
        with runtime.acknowledging():
            return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await runtime.start(schedule=True)
        socket_handler = None
        if socket_mode:
            from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

            token = runtime.settings.slack_app_token
            assert token is not None
            socket_handler = AsyncSocketModeHandler(bolt, token.get_secret_value())
            await socket_handler.connect_async()  # type: ignore[no-untyped-call]
        # Everything loaded so far (modules, the app, the clients) lives as long as the process: kept
        # out of the collector's full passes, which otherwise stall every request for tens of ms.
        # (No gc.collect() first: it would cost ~50 ms of start-up for a few garbage objects.)
        gc.freeze()
        log.info("apikey-bot started (%s mode)", "Socket" if socket_mode else "HTTP")
        if on_started is not None:
            on_started()
        try:
            yield
        finally:
            # uvicorn has stopped taking requests and finished answering them; Slack work that goes on
            # after an ack (a create, a delivery) gets a bounded time to finish before clients close.
            if socket_handler is not None:
                await socket_handler.close_async()  # type: ignore[no-untyped-call]
            if runtime.scheduler is not None:
                runtime.scheduler.shutdown(wait=False)
                runtime.scheduler = None
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
