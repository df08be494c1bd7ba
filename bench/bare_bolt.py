"""The floor for P1 and P4: a Bolt AsyncApp that only acknowledges `/apikey`, served like the bot.

    python -m bench.bare_bolt --port 3100   (env: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, SLACK_API_URL)

With `--with-libraries` it first imports the libraries the bot is built on besides Bolt (SQLAlchemy's
asyncio engine and the SQLite driver, pydantic-settings, httpx, APScheduler, prometheus-client) and
uses none of them: P4 prints that start-up too, the floor for any bot on this stack.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

#: What the bot imports beyond Bolt, Starlette and uvicorn, for `--with-libraries`.
LIBRARIES = ("sqlalchemy.ext.asyncio", "sqlalchemy.dialects.sqlite.aiosqlite", "aiosqlite", "pydantic_settings",
             "httpx", "httpx_aiohttp", "apscheduler.schedulers.asyncio", "apscheduler.triggers.interval",
             "prometheus_client")


def build(*, name: str | None = None) -> Starlette:
    client = AsyncWebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = AsyncApp(client=client, signing_secret=os.environ["SLACK_SIGNING_SECRET"], name=name)

    @app.command("/apikey")
    async def only_ack(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def ready(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/readyz", ready, methods=["GET"])])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--with-libraries", action="store_true", help="import the bot's other libraries first")
    args = parser.parse_args()
    if args.with_libraries:
        # with the bot's own start-up economies: no collector passes over what imports make, and an app
        # with a name (Bolt finds one with inspect.stack() otherwise, which reads source files)
        gc.disable()
        for name in LIBRARIES:
            importlib.import_module(name)
        app = build(name="floor")
        gc.freeze()
        gc.enable()
    else:
        app = build()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
