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
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.blockkit import masked_headers
from bot.playground.clock import PlayClock
from bot.playground.controls import MAX_BODY, Controls, json_route, same_origin_guard
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.heimdall_model import Call
from bot.playground.people import People
from bot.playground.seed import ADMIN, APPROVAL_CHANNEL, POLICY, ROTATION_MOUNT, ROTATION_PATH, ROTATION_PREFIX, seed
from bot.playground.slack.functions import runs_shown
from bot.playground.vault import KVStandIn
from bot.playground.workspace import CHANNELS, INSPECTOR_ROWS, WORKSPACE_URL, Workspace
from bot.proxies import is_loopback

if TYPE_CHECKING:
    from bot.app import Runtime
    from bot.config import Settings

log = logging.getLogger(__name__)
#: Variables a real deployment sets; the playground ignores them (and says so).
REAL_SETTINGS = ("SLACK_", "DATAOS_", "HEIMDALL_URL")
WILDCARD = ("0.0.0.0", "", "::")  # noqa: S104 (names to compare with, not a bind)


def ignored_settings(environ: dict[str, str], dotenv: Path = Path(".env")) -> list[str]:
    """Names of real-deployment settings present in the environment or `.env`, which the playground ignores."""
    names = set(environ)
    if dotenv.is_file():
        from dotenv import dotenv_values  # noqa: PLC0415

        names |= {k for k in dotenv_values(dotenv) if k}
    return sorted(n for n in names if n.startswith(REAL_SETTINGS))


def playground_settings(values: dict[str, Any]) -> Settings:
    """Settings from `values` only: no environment, no `.env`."""
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource  # noqa: PLC0415

    from bot.config import Settings  # noqa: PLC0415

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
        from bot.domain.keys import mask_secret  # noqa: PLC0415
        from bot.domain.leaks import candidates  # noqa: PLC0415

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
        self.people = People(self.slack)
        self.emu = HeimdallEmulator(clock=self.clock.now, observer=self._dataos_call)
        self.operator_key = self.emu.add_operator(key=f"playground-operator-{secrets.token_hex(12)}")
        seed(self.emu, self.slack)
        #: The organisation's secret store, a KV v2 stand-in: etl-ingest's key rotates into it.
        self.vault = KVStandIn(clock=self.clock.now)
        self.slack.masker = Masker(self.emu, [self.operator_key, self.slack.token, self.signing_secret,
                                              self.vault.root_token])
        self.runtime: Runtime | None = None
        self.server: Any = None  # the bot's uvicorn.Server, once it runs
        self.command_help: dict[str, str] = {}
        self.url = ""
        self.hosts: set[str] = set()  # what `Host` may say: this address, by the names it is known by
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
        app = web.Application(client_max_size=MAX_BODY, middlewares=[same_origin_guard(lambda: self.hosts)])
        for route in self.slack.app().router.routes():
            app.router.add_route(route.method, route.resource.canonical, route.handler)  # type: ignore[union-attr]
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/pg/stream", self._stream)
        app.router.add_get("/pg/ready", self._ready_state)
        for name, handler in Controls(self).routes().items():
            app.router.add_post(f"/pg/{name}", json_route(handler))
        self.url = await self._serve(app, self.host, self.port)
        self.hosts = self._own_hosts(int(self.url.rsplit(":", 1)[1]))
        self.slack.url = self.url
        return self.url

    def _own_hosts(self, port: int) -> set[str]:
        """`host:port` for the names this address goes by: loopback's, and the one given with --host (for
        0.0.0.0, this machine's own names)."""
        names = {"127.0.0.1", "localhost", "[::1]"}
        if self.host in WILDCARD:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
            try:
                names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
            except OSError:
                pass
        elif not is_loopback(self.host):
            names.add(f"[{self.host}]" if ":" in self.host else self.host.lower())
        return {f"{name}:{port}" for name in names}

    async def start_dataos(self) -> str:
        self.emu.url = await self._serve(self.emu.app(), "127.0.0.1", 0) + "/heimdall"
        self.vault.url = await self._serve(self.vault.app(), "127.0.0.1", 0)
        return self.emu.url

    async def _serve(self, app: web.Application, host: str, port: int) -> str:
        # handler_cancellation: a page that goes away (closed, reloaded) ends its stream at once, and with
        # it what that page held (its ephemeral messages).
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0,
                               handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runners.append(runner)
        bound = runner.addresses[0]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 (a name to print, not a bind)
        return f"http://{shown}:{bound[1]}"

    def settings(self) -> Settings:
        policy = self.data_dir / "policy.toml"
        policy.write_text(POLICY, encoding="utf-8")
        return playground_settings({
            "slack_bot_token": self.slack.token, "slack_signing_secret": self.signing_secret,
            "slack_api_url": self.url + "/api/", "heimdall_url": self.emu.url, "dataos_apikey": self.operator_key,
            "database_url": f"sqlite+aiosqlite:///{self.data_dir / 'playground.db'}",
            "admin_slack_user_ids": [ADMIN], "audit_channel": "C0AUDIT", "leak_watch": True,
            # Reminders whenever the sweep runs: the page's clock buttons are the working hours here.
            "working_hours": "00:00-24:00", "working_days": "mon-sun", "dataos_timeout_seconds": 5.0,
            # The key policy: above 90 days, Grace approves in #apikey-approvals (the form offers 180 days).
            "policy_file": str(policy), "approval_channel": APPROVAL_CHANNEL,
            "validity_presets": ["1d", "7d", "30d", "90d", "180d"],
            "vault_addr": self.vault.url, "vault_token": self.vault.root_token,
            "vault_allowed_paths": [ROTATION_PREFIX],
        })

    async def run_bot(self, on_ready: Callable[[], None]) -> None:
        """Import and start the bot, then serve it until the process is asked to stop."""
        # The bot's modules take most of a second to import: in a thread, so the page is served meanwhile.
        await asyncio.to_thread(importlib.import_module, "bot.compose")
        import uvicorn  # noqa: PLC0415

        from bot.app import Runtime  # noqa: PLC0415
        from bot.compose import create_web_app  # noqa: PLC0415
        from bot.manifest import COMMAND_DESCRIPTION, COMMAND_USAGE  # noqa: PLC0415
        from bot.playground.seed_teams import seed_baseline, seed_teams  # noqa: PLC0415

        self.command_help = {"command": "/apikey", "description": COMMAND_DESCRIPTION, "usage": COMMAND_USAGE}
        self.runtime = Runtime(self.settings(), clock=self.clock.now, monotonic=self.clock.monotonic,
                               sweep_at_start=False)
        await seed_teams(self.runtime)
        await seed_baseline(self.runtime, self.emu)

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
        await self.people.aclose()
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
            "personas": [dict(vars(p), active=self.slack.is_active(p.user_id)) for p in self.slack.personas],
            "channels": [{"id": cid, "name": name} for cid, name in CHANNELS.items()],
            "clock": now.strftime("%a %d %b %Y, %H:%M UTC"),
            "inspector": {"kept": INSPECTOR_ROWS, "dropped": self.slack.inspector_dropped},
            "days_ahead": round(self.clock.offset.total_seconds() / 86400, 2),
            "faults": self.faults(),
            "vault": {"path": f"vault:{ROTATION_MOUNT}/{ROTATION_PATH}",
                      "versions": self.vault.versions(ROTATION_MOUNT, ROTATION_PATH)},
            "command": self.command_help,
            "workspace_url": WORKSPACE_URL,
            "workflows": runs_shown(self.slack),  # the Workflows control's runs: outputs or errors, no token
        }

    def make_ui_key(self, user: str) -> str:
        """A key made "in the DataOS UI" for the person's DataOS user: the bot did not make it, so the next
        sweep's discovery asks them "Was this you?". Its name, or ValueError saying why not."""
        email = str((self.slack.users.get(user) or {}).get("profile", {}).get("email") or "").lower()
        owner = next((uid for uid, u in self.emu.users.items()
                      if str(u.get("email") or "").lower() == email and u.get("type") == "person"), None)
        if not email or owner is None:
            raise ValueError("has no DataOS user, so has no DataOS UI to make a key in")
        return self.emu.add_token(owner, hours=30 * 24).name

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
        page = self.slack.open_page(user)  # holds the ephemeral messages that arrive from now on
        queue = self.slack.listen()
        last: dict[str, Any] = {}
        sent = 0
        redraw = True
        try:
            while not self._closing:
                if redraw:
                    state = {"world": self.world(), **self.slack.snapshot(user, since=page)}
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
            self.slack.close_page(page)
            self.slack.changed()
        return response

    async def sweep(self) -> list[str]:
        """A reminder pass now, as a discovery (a handful of people: every key is listed, so a key made "in
        the DataOS UI" is found at once); its summary lines."""
        from bot.delivery import SweepFailed  # noqa: PLC0415 (deferred: loaded with the bot, after start-up)
        from bot.reminders.sweep import Sweeper  # noqa: PLC0415 (deferred: loaded with the bot, after start-up)

        assert self.runtime is not None
        try:
            summary = await Sweeper(self.runtime).run("discovery")
        except SweepFailed as exc:
            return [f"The sweep could not run: {exc}"]
        return summary.lines()


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


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

