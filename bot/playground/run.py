"""`apikey-bot playground`: the real bot, on an embedded DataOS and an embedded Slack, with a web page
that plays the Slack client. One process, one event loop, everything on 127.0.0.1 by default.

Three servers share the loop: the page and the Slack Web API (the address printed), the Heimdall
emulator, and the bot itself (the same Runtime, Bolt app, listeners, store and scheduler as `serve`,
reached over HTTP with signed requests). Nothing here talks to a real Slack or DataOS: the settings
are made here, from nothing the environment says.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import os
import secrets
import socket
import tempfile
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.clock import PlayClock
from bot.playground.heimdall import Call, HeimdallEmulator
from bot.playground.slack import BOT_USER_ID
from bot.playground.workspace import CHANNELS, Workspace, masked_headers

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.config import Settings

log = logging.getLogger(__name__)
ADMIN = "U0GRACE"
#: The largest request the page sends (a modal's values, a message): anything bigger is not the page.
MAX_BODY = 64 * 1024
#: Variables a real deployment sets; the playground ignores them (and says so).
REAL_SETTINGS = ("SLACK_", "DATAOS_", "HEIMDALL_URL")
HOUR = 1
DAY = 24


def seed(emu: HeimdallEmulator, slack: Workspace) -> None:
    """The people and keys the playground starts with (README: "The playground")."""
    slack.add_persona("U0ADA", "Ada Lovelace", "ada@acme.example", "Europe/Berlin",
                      "matched to DataOS user ada by e-mail; keys expire tomorrow, in 6, 25 and 200 days")
    slack.add_persona("U0BOB", "Bob Stone", "bob@acme.example", "America/New_York",
                      "has no DataOS user")
    slack.add_persona(ADMIN, "Grace Hopper", "grace@acme.example", "America/Los_Angeles",
                      "platform admin (ADMIN_SLACK_USER_IDS); DataOS user grace")
    slack.add_user(BOT_USER_ID, None, is_bot=True, name="apikey-bot")
    emu.add_user("ada", "ada@acme.example", name="Ada Lovelace")
    for name, hours in (("nightly_loader", 1 * DAY), ("ci_pipeline", 6 * DAY), ("notebook_sandbox", 25 * DAY),
                        ("dashboard_reader", 200 * DAY)):
        emu.add_token("ada", name, hours=hours)
    emu.add_user("grace", "grace@acme.example", name="Grace Hopper")
    emu.add_token("grace", "admin_cli", hours=90 * DAY)
    emu.add_user("etl-ingest", None, name="ETL ingest service", type="application",
                  tags=["roles:id:app-user", "users:id:etl-ingest"])
    emu.add_token("etl-ingest", "ingest_writer", hours=25 * DAY)


def ignored_settings(environ: dict[str, str], dotenv: Path = Path(".env")) -> list[str]:
    """Names of real-deployment settings present in the environment or `.env`, which the playground ignores."""
    names = set(environ)
    if dotenv.is_file():
        from dotenv import dotenv_values

        names |= {k for k in dotenv_values(dotenv) if k}
    return sorted(n for n in names if n.startswith(REAL_SETTINGS))


def playground_settings(values: dict[str, Any]) -> Settings:
    """Settings from `values` only: no environment, no `.env`."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

    from bot.config import Settings

    class Isolated(Settings):
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings,)

    return Isolated(**values)


class Masker:
    """Hides secrets in what the inspector shows: the bot's own credentials and every key DataOS issued."""

    def __init__(self, emu: HeimdallEmulator, fixed: list[str]) -> None:
        self._emu = emu
        self._known: set[str] = set(fixed)

    def __call__(self, text: str) -> str:
        from bot.domain.keys import mask_secret
        from bot.domain.leaks import candidates

        self._known.update(self._emu.by_key)
        for secret in [*(s for s in self._known if s in text), *candidates(text)]:
            text = text.replace(secret, f"{mask_secret(secret)} (masked)")
        return text


class Playground:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, data_dir: Path | None = None) -> None:
        self.host = host
        self.port = port
        self.clock = PlayClock()
        self._tmp = tempfile.TemporaryDirectory(prefix="apikey-playground-") if data_dir is None else None
        self.data_dir = data_dir or Path(self._tmp.name if self._tmp else ".")
        self.bot_socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.bot_socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.bot_socket.bind(("127.0.0.1", 0))
        self.bot_socket.listen(128)
        bot_url = f"http://127.0.0.1:{self.bot_socket.getsockname()[1]}"
        self.signing_secret = secrets.token_hex(16)
        token = f"xoxb-playground-{secrets.token_hex(8)}"
        self.slack = Workspace(self.clock, bot_url, self.signing_secret, token=token)
        self.emu = HeimdallEmulator(clock=self.clock.now, observer=self._dataos_call)
        self.operator_key = self.emu.add_operator(key=f"playground-operator-{secrets.token_hex(12)}")
        seed(self.emu, self.slack)
        self.slack.masker = Masker(self.emu, [self.operator_key, self.slack.token, self.signing_secret])
        self.runtime: Runtime | None = None
        self.server: Any = None  # the bot's uvicorn.Server, once it runs
        self.command_help: dict[str, str] = {}
        self.url = ""
        self._runners: list[web.AppRunner] = []
        self._closing = False

    # ---- the servers -------------------------------------------------------------------------

    async def serve(self, on_page: Callable[[str], None], on_ready: Callable[[], None]) -> None:
        """Everything, in order (the page first, so it is up while the bot starts), until asked to stop."""
        try:
            await self.start_page()
            await self.start_dataos()
            on_page(self.url)
            await self.run_bot(on_ready)
        finally:
            await self.aclose()

    async def start_page(self) -> str:
        """The page and the Slack Web API, on the printed address. Served before the bot is up."""
        app = web.Application(client_max_size=MAX_BODY)
        for route in self.slack.app().router.routes():
            app.router.add_route(route.method, route.resource.canonical, route.handler)  # type: ignore[union-attr]
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/pg/stream", self._stream)
        app.router.add_get("/pg/ready", self._ready_state)
        for name, handler in self._controls().items():
            app.router.add_post(f"/pg/{name}", _json_route(handler))
        self.url = await self._serve(app, self.host, self.port)
        self.slack.url = self.url
        return self.url

    async def start_dataos(self) -> str:
        self.emu.url = await self._serve(self.emu.app(), "127.0.0.1", 0) + "/heimdall"
        return self.emu.url

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        bound = runner.addresses[0]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (a name to print, not a bind)
        return f"http://{shown}:{bound[1]}"

    def settings(self) -> Settings:
        return playground_settings({
            "slack_bot_token": self.slack.token, "slack_signing_secret": self.signing_secret,
            "slack_api_url": self.url + "/api/", "heimdall_url": self.emu.url, "dataos_apikey": self.operator_key,
            "database_url": f"sqlite+aiosqlite:///{self.data_dir / 'playground.db'}",
            "admin_slack_user_ids": [ADMIN], "audit_channel": "C0AUDIT", "leak_watch": True,
            # Reminders whenever the sweep runs: the page's clock buttons are the working hours here.
            "working_hours": "00:00-24:00", "working_days": "mon-sun", "dataos_timeout_seconds": 5.0,
        })

    async def run_bot(self, on_ready: Callable[[], None]) -> None:
        """Import and start the bot, then serve it until the process is asked to stop."""
        # The bot's modules take most of a second to import: in a thread, so the page is served meanwhile.
        await asyncio.to_thread(importlib.import_module, "bot.web")
        import uvicorn

        from bot.app import Runtime
        from bot.manifest import COMMAND_DESCRIPTION, COMMAND_USAGE
        from bot.web import create_web_app

        self.command_help = {"command": "/apikey", "description": COMMAND_DESCRIPTION, "usage": COMMAND_USAGE}
        self.runtime = Runtime(self.settings(), clock=self.clock.now, monotonic=self.clock.monotonic,
                               sweep_at_start=False)

        def started() -> None:
            self.slack.ready = True
            self.slack.changed()
            on_ready()

        app = create_web_app(self.runtime, on_started=started)
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5)
        self.server = uvicorn.Server(config)
        await self.server.serve(sockets=[self.bot_socket])

    def stop(self) -> None:
        """Ask the bot to shut down (from the playground's loop); `run_bot` then returns."""
        if self.server is not None:
            self.server.should_exit = True

    async def aclose(self) -> None:
        self._closing = True
        self.slack.changed()  # the live streams notice and end
        await self.slack.aclose()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self.bot_socket.close()
        if self._tmp is not None:
            self._tmp.cleanup()

    # ---- what the inspector shows of DataOS --------------------------------------------------

    def _dataos_call(self, call: Call) -> None:
        headers = masked_headers(call.headers, secret=("apikey", "authorization"))
        answer: Any = None
        if call.answer:
            try:
                answer = json.loads(call.answer)
            except ValueError:
                answer = call.answer.decode("utf-8", "replace")
        self.slack.note("bot → DataOS", f"{call.method} {call.path.removeprefix('/heimdall')}", str(call.status),
                        call.ms, {"headers": headers, "body": call.body}, answer)

    # ---- the page ----------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text=_asset("index.html"), content_type="text/html",
                            headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"})

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        kinds = {"app.js": "text/javascript", "style.css": "text/css"}
        if name not in kinds:
            raise web.HTTPNotFound()
        return web.Response(text=_asset(name), content_type=kinds[name], headers={"Cache-Control": "no-store"})

    async def _ready_state(self, request: web.Request) -> web.Response:
        """Whether the bot is up yet (the page shows "Starting the bot…" until it is)."""
        return web.json_response({"ready": self.slack.ready}, status=200 if self.slack.ready else 503)

    def world(self) -> dict[str, Any]:
        now = self.clock.now()
        return {
            "ready": self.slack.ready,
            "personas": [vars(p) for p in self.slack.personas],
            "channels": [{"id": cid, "name": name} for cid, name in CHANNELS.items()],
            "clock": now.strftime("%a %d %b %Y, %H:%M UTC"),
            "days_ahead": round(self.clock.offset.total_seconds() / 86400, 2),
            "faults": self.faults(),
            "command": self.command_help,
        }

    def faults(self) -> dict[str, bool]:
        return {"dataos_down": self.emu.error_rate >= 1.0, "dataos_slow": self.emu.latency >= 2.0,
                "dm_refused": self.slack.dm_refused}

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events for one person's page: their view of everything, and the inspector's rows."""
        user = request.query.get("user", "")
        if user not in {p.user_id for p in self.slack.personas}:
            raise web.HTTPNotFound(text="no such person in the playground")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
        await response.prepare(request)
        queue = self.slack.listen()
        last: dict[str, Any] = {}
        sent = 0
        redraw = True
        try:
            while not self._closing:
                if redraw:
                    state = {"world": self.world(), **self.slack.snapshot(user)}
                    if state != last:
                        await response.write(_event("state", state))
                        last = state
                rows = [r for r in self.slack.inspector if r["n"] > sent]
                if rows:
                    await response.write(_event("calls", rows))
                    sent = rows[-1]["n"]
                try:
                    kinds = {await asyncio.wait_for(queue.get(), timeout=15)}
                except TimeoutError:
                    await response.write(b": still here\n\n")
                    kinds = set()
                while not queue.empty():
                    kinds.add(queue.get_nowait())
                redraw = bool(kinds - {"inspector"})  # new inspector rows alone leave the person's view as it was
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.slack.unlisten(queue)
        return response

    # ---- what the page asks for --------------------------------------------------------------

    def _controls(self) -> dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {"command": self._command, "message": self._message, "action": self._action,
                "submit": self._submit, "close": self._close, "home": self._home, "dismiss": self._dismiss,
                "sweep": self._sweep, "clock": self._clock, "fault": self._fault}

    def _person(self, body: dict[str, Any]) -> str:
        user = body.get("user")
        if not isinstance(user, str) or user not in {p.user_id for p in self.slack.personas}:
            raise Refused("Choose one of the playground's people.")
        return user

    def _conversation(self, body: dict[str, Any], user: str) -> str:
        """A channel, or the person's own DM with the bot: nobody else's."""
        channel = _text(body, "channel", 32)
        if channel not in CHANNELS and channel != self.slack.dm(user):
            raise Refused("No such conversation.")
        return channel

    def _ready(self) -> None:
        if not self.slack.ready:
            raise Refused("The bot is still starting; try again in a moment.", status=503)

    async def _command(self, body: dict[str, Any]) -> dict[str, Any]:
        user, text = self._person(body), _text(body, "text", 4000)
        channel = self._conversation(body, user)
        self._ready()
        self._spawn(self.slack.command(user, channel, escape_command_text(text, self.slack.users)))
        return {}

    async def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        user, text = self._person(body), _text(body, "text", 40_000)
        channel = self._conversation(body, user)
        self._spawn(self.slack.post(user, channel, text))
        return {}

    async def _action(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._person(body)
        self._ready()
        where = {"message_id": body.get("message_id"), "view_id": body.get("view_id")}
        option = body.get("option")
        values = body.get("values") if isinstance(body.get("values"), dict) else None
        refused = await self.slack.click(
            user, _text(body, "block_id", 255), _text(body, "action_id", 255),
            message_id=where["message_id"] if isinstance(where["message_id"], str) else None,
            view_id=where["view_id"] if isinstance(where["view_id"], str) else None,
            option=option if isinstance(option, str) else None, values=values)
        if refused:
            raise Refused(refused)
        return {}

    async def _submit(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._person(body)
        self._ready()
        values = body["values"] if isinstance(body.get("values"), dict) else {}
        self._spawn(self.slack.submit(user, _text(body, "view_id", 64), values))
        return {}

    async def _close(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.slack.close(self._person(body), _text(body, "view_id", 64))
        return {}

    async def _home(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._person(body)
        self._ready()
        self._spawn(self.slack.open_home(user))
        return {}

    async def _dismiss(self, body: dict[str, Any]) -> dict[str, Any]:
        self.slack.dismiss(self._person(body), _text(body, "message_id", 32))
        return {}

    async def _sweep(self, body: dict[str, Any]) -> dict[str, Any]:
        self._ready()
        from bot.reminders.sweep import Sweeper, SweepFailed

        assert self.runtime is not None
        try:
            summary = await Sweeper(self.runtime).run("auto")
        except SweepFailed as exc:
            return {"lines": [f"The sweep could not run: {exc}"]}
        return {"lines": summary.lines()}

    async def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        days = body.get("days")
        if days not in (1, 7):
            raise Refused("The clock moves forward by 1 or 7 days.")
        self.clock.advance(days)
        self.slack.changed()
        return {"clock": self.world()["clock"]}

    async def _fault(self, body: dict[str, Any]) -> dict[str, Any]:
        name, on = body.get("name"), body.get("on")
        if name not in self.faults() or not isinstance(on, bool):
            raise Refused("Unknown fault.")
        if name == "dataos_down":
            self.emu.error_rate = 1.0 if on else 0.0
        elif name == "dataos_slow":
            self.emu.latency = 2.0 if on else 0.0
        else:
            self.slack.dm_refused = on
        self.slack.changed()
        return {"faults": self.faults()}

    def _spawn(self, work: Awaitable[None]) -> None:
        """Answer the page at once; what Slack does next arrives over the live stream."""
        task = asyncio.ensure_future(work)
        _background.add(task)
        task.add_done_callback(_finished)


_background: set[asyncio.Future[None]] = set()


def _finished(task: asyncio.Future[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("playground: %s", task.exception())


class Refused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _json_route(handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
                ) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def route(request: web.Request) -> web.Response:
        # JSON only: a form on another site cannot send it without the browser asking first (CORS).
        if request.content_type != "application/json":
            return web.json_response({"error": "Send JSON."}, status=415)
        try:
            raw = await request.read()  # capped at MAX_BODY by the application
            body = json.loads(raw) if raw else {}
        except web.HTTPRequestEntityTooLarge:
            return web.json_response({"error": "Too large."}, status=413)
        except ValueError:
            return web.json_response({"error": "Not JSON."}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "Send a JSON object."}, status=400)
        try:
            return web.json_response(await handler(body))
        except Refused as exc:
            return web.json_response({"error": str(exc)}, status=exc.status)

    return route


def _text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(f"{name} is missing or too long.")
    return value


def escape_command_text(text: str, users: dict[str, dict[str, Any]]) -> str:
    """What Slack sends for a command with `should_escape`: & < > as entities, `@name` as a mention."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    words = []
    for word in escaped.split(" "):
        if word.startswith("@"):
            match = next((uid for uid, u in users.items() if u.get("name") == word[1:]), None)
            word = f"<@{match}|{word[1:]}>" if match else word
        words.append(word)
    return " ".join(words)


def _event(name: str, data: Any) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _asset(name: str) -> str:
    return resources.files("bot.playground").joinpath("page", name).read_text(encoding="utf-8")


async def main_async(host: str, port: int) -> None:
    pg = Playground(host, port)

    def announce(url: str) -> None:
        log.info("apikey-bot playground: open %s", url)
        ignored = ignored_settings(dict(os.environ))
        if ignored:
            log.info("ignoring %s: the playground never talks to a real Slack or DataOS", ", ".join(ignored))
        log.info("DataOS emulator at %s; the bot's database is in %s (deleted on exit); starting the bot",
                 pg.emu.url, pg.data_dir)

    await pg.serve(announce, lambda: log.info("the bot is ready; Ctrl-C stops the playground"))

