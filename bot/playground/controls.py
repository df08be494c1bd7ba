"""What the page may ask of the playground (`POST /pg/<name>`, JSON only), and who may ask at all.

Only the playground's own page may: every request must name the playground's own host and port in
`Host` (a DNS-rebinding page's requests name its own host), and the controls and the live stream must
come from the playground's own origin (`Origin`, and `Sec-Fetch-Site` where the browser sends it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.seed import TEAM_APP
from bot.playground.slack.directory import Directory
from bot.playground.workspace import CHANNELS
from bot.slack.workflows.definitions import BY_ID, CREATE_KEY, REQUEST_APP_KEY

if TYPE_CHECKING:
    from bot.playground.run import Playground

log = logging.getLogger(__name__)
#: The largest request the page sends (a modal's values, a message): anything bigger is not the page.
MAX_BODY = 64 * 1024
#: What Slack's client says in an app's Messages tab when the app made it read-only.
READ_ONLY_DM = "Sending messages to this app has been turned off."
Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Refused(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def same_origin_guard(hosts: Callable[[], Collection[str]]) -> Any:
    """An aiohttp middleware: 403 unless `Host` is one of `hosts()` ("127.0.0.1:4000"), and for the
    page's controls and stream (`/pg/…`), unless the request comes from the page itself."""

    @web.middleware
    async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        allowed = hosts()
        if request.host.lower() not in allowed:
            return web.Response(status=403, text="This playground answers only at its own address: "
                                                 + ", ".join(f"http://{h}" for h in sorted(allowed)))
        if request.path.startswith("/pg/"):
            origin = request.headers.get("Origin")
            site = request.headers.get("Sec-Fetch-Site")
            ours = {f"http://{h}" for h in allowed}
            if origin is not None and origin.lower() not in ours:
                return web.json_response({"error": "Only the playground's own page may do this."}, status=403)
            if origin is None and request.method != "GET":
                # Browsers send Origin with every POST: one without it is not the page.
                return web.json_response({"error": "Only the playground's own page may do this."}, status=403)
            if site is not None and site not in ("same-origin", "none"):
                return web.json_response({"error": "Only the playground's own page may do this."}, status=403)
        return await handler(request)

    return guard


def json_route(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
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


def text(body: dict[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or len(value) > limit:
        raise Refused(f"{name} is missing or too long.")
    return value


def _optional(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) else None


#: A mention as typed: `@handle` or `#channel`, not inside a word or an e-mail address.
_MENTION = re.compile(r"(?<![\w@#.&])([@#])([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)
_SPECIAL = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}


def escape_command_text(typed: str, slack: Directory) -> str:
    """What Slack sends for a command with `should_escape: true`: & < > as entities, and what it can
    name as its own markup: `@person` -> `<@U…|name>`, `#channel` -> `<#C…|name>`, `@group` ->
    `<!subteam^S…|@handle>`, `@here` -> `<!here>`. A name Slack does not know stays as typed."""
    escaped = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def entity(match: re.Match[str]) -> str:
        sigil, name = match.group(1), match.group(2).rstrip(".")
        rest = match.group(2)[len(name):]
        low = name.lower()
        if sigil == "#":
            channel = next((c for c in slack.channels.values() if c["name"] == low), None)
            return f"<#{channel['id']}|{channel['name']}>{rest}" if channel else match.group(0)
        person = next((uid for uid, u in slack.users.items() if u.get("name") == low and not u.get("deleted")), None)
        if person is not None:
            return f"<@{person}|{low}>{rest}"
        group = next((g for g in slack.usergroups.values() if g["handle"] == low), None)
        if group is not None:
            return f"<!subteam^{group['id']}|@{group['handle']}>{rest}"
        return f"{_SPECIAL[low]}{rest}" if low in _SPECIAL else match.group(0)

    return _MENTION.sub(entity, escaped)


class Controls:
    def __init__(self, pg: Playground) -> None:
        self.pg = pg
        self.slack = pg.slack
        self.people = pg.people

    def routes(self) -> dict[str, Handler]:
        return {"command": self._command, "message": self._message, "action": self._action,
                "submit": self._submit, "close": self._close, "home": self._home, "dismiss": self._dismiss,
                "sweep": self._sweep, "clock": self._clock, "fault": self._fault, "member": self._member,
                "suggest": self._suggest, "ui_key": self._ui_key, "workflow": self._workflow}

    def _person(self, body: dict[str, Any], *, acting: bool = True) -> str:
        user = body.get("user")
        if not isinstance(user, str) or user not in {p.user_id for p in self.slack.personas}:
            raise Refused("Choose one of the playground's people.")
        if acting and not self.slack.is_active(user):
            name = next(p.name for p in self.slack.personas if p.user_id == user)
            raise Refused(f"{name} is deactivated, so Slack lets them do nothing. Reactivate them under "
                          "Members to act as them again.")
        return user

    def _conversation(self, body: dict[str, Any], user: str) -> str:
        """A channel, or the person's own DM with the bot: nobody else's."""
        channel = text(body, "channel", 32)
        if channel not in CHANNELS and channel != self.slack.dm(user):
            raise Refused("No such conversation.")
        return channel

    def _writable(self, body: dict[str, Any], user: str) -> str:
        """A conversation the person can type in: the app's Messages tab is read-only (its manifest says
        so), and Slack's client then takes neither messages nor slash commands there."""
        channel = self._conversation(body, user)
        if channel not in CHANNELS:
            raise Refused(READ_ONLY_DM + " Type /apikey in #general instead.")
        return channel

    def _ready(self) -> None:
        if not self.slack.ready:
            raise Refused("The bot is still starting; try again in a moment.", status=503)

    async def _command(self, body: dict[str, Any]) -> dict[str, Any]:
        user, typed = self._person(body), text(body, "text", 4000)
        channel = self._writable(body, user)
        self._ready()
        spawn(self.people.command(user, channel, escape_command_text(typed, self.slack)))
        return {}

    async def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        user, typed = self._person(body), text(body, "text", 40_000)
        channel = self._writable(body, user)
        spawn(self.people.post(user, channel, typed))
        return {}

    async def _action(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._person(body)
        self._ready()
        values = body.get("values") if isinstance(body.get("values"), dict) else None
        refused = await self.people.click(
            user, text(body, "el", 16), text(body, "block_id", 255), text(body, "action_id", 255),
            message_id=_optional(body, "message_id"), view_id=_optional(body, "view_id"),
            option=_optional(body, "option"), values=values)
        if refused:
            raise Refused(refused)
        return {}

    async def _suggest(self, body: dict[str, Any]) -> dict[str, Any]:
        """Typing in an external select: its options come from the bot (`block_suggestion`)."""
        user = self._person(body)
        self._ready()
        refused = await self.people.suggest(user, text(body, "view_id", 64), text(body, "block_id", 255),
                                            text(body, "action_id", 255), text(body, "value", 200))
        if refused:
            raise Refused(refused)
        return {}

    async def _submit(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._person(body)
        self._ready()
        values = body["values"] if isinstance(body.get("values"), dict) else {}
        spawn(self.people.submit(user, text(body, "view_id", 64), values))
        return {}

    async def _close(self, body: dict[str, Any]) -> dict[str, Any]:
        await self.people.close(self._person(body, acting=False), text(body, "view_id", 64))
        return {}

    async def _home(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._person(body)
        self._ready()
        spawn(self.people.open_home(user))
        return {}

    async def _dismiss(self, body: dict[str, Any]) -> dict[str, Any]:
        self.slack.dismiss(self._person(body, acting=False), text(body, "message_id", 32))
        return {}

    async def _member(self, body: dict[str, Any]) -> dict[str, Any]:
        """Deactivate or reactivate a member, as a workspace admin would in Slack's admin pages."""
        user, active = self._person(body, acting=False), body.get("active")
        if not isinstance(active, bool):
            raise Refused("Say whether the member is to be active.")
        self._ready()
        if self.slack.is_active(user) != active:
            spawn(self.people.set_active(user, active))
        return {}

    async def _sweep(self, body: dict[str, Any]) -> dict[str, Any]:
        self._ready()
        return {"lines": await self.pg.sweep()}

    async def _ui_key(self, body: dict[str, Any]) -> dict[str, Any]:
        """"Create a key in the DataOS UI": a key the bot did not make, for the person acting."""
        user = self._person(body)
        name = next(p.name for p in self.slack.personas if p.user_id == user)
        try:
            key = self.pg.make_ui_key(user)
        except ValueError as exc:
            raise Refused(f"{name} {exc}.") from None
        self.slack.changed()
        return {"line": f"{name} made {key} in the DataOS UI (valid 30 days). Run the sweep: the bot asks "
                        f"“Was this you?”."}

    async def _workflow(self, body: dict[str, Any]) -> dict[str, Any]:
        """"Workflows": a workflow runs one of the bot's steps with the person acting as its person (or
        requester); its outputs appear in the list below the control once the step completes."""
        user = self._person(body)
        self._ready()
        step = body.get("step")
        if step not in BY_ID:
            raise Refused("Choose one of the bot's steps.")
        typed = {k: text(body, k, 200).strip() for k in ("name", "validity", "reason", "app_user", "within")
                 if isinstance(body.get(k), str)}
        inputs: dict[str, Any]
        if step == CREATE_KEY:
            inputs = {"person": user, "name": typed.get("name"), "validity": typed.get("validity")}
        elif step == REQUEST_APP_KEY:
            inputs = {"requester": user, "app_user": typed.get("app_user") or TEAM_APP,
                      "validity": typed.get("validity") or "30d", "reason": typed.get("reason")}
        else:
            within = typed.get("within") or "30"
            if not within.isascii() or not within.isdigit():
                raise Refused("“Within” is a number of days.")
            inputs = {"person": user, "within": int(within)}
        try:
            execution, event = self.slack.run_function(str(step), {k: v for k, v in inputs.items() if v})
        except ValueError as exc:  # what Workflow Builder itself would not let a workflow run
            raise Refused(f"Workflow Builder would not run this: {exc}.") from None
        self.slack.changed()
        spawn(self.people.run_step(event))
        name = next(p.name for p in self.slack.personas if p.user_id == user)
        what = " (it asks them first, in their DM)" if step == CREATE_KEY else (
            " (it waits for the approvers when the policy says so)" if step == REQUEST_APP_KEY else "")
        return {"line": f"A workflow ran “{BY_ID[str(step)].title}” for {name}{what}: execution {execution.id}."}

    async def _clock(self, body: dict[str, Any]) -> dict[str, Any]:
        days = body.get("days")
        if days not in (1, 7):
            raise Refused("The clock moves forward by 1 or 7 days.")
        self.pg.clock.advance(days)
        self.slack.changed()
        return {"clock": self.pg.world()["clock"]}

    async def _fault(self, body: dict[str, Any]) -> dict[str, Any]:
        name, on = body.get("name"), body.get("on")
        if name not in self.pg.faults() or not isinstance(on, bool):
            raise Refused("Unknown fault.")
        if name == "dataos_down":
            self.pg.emu.error_rate = 1.0 if on else 0.0
        elif name == "dataos_slow":
            self.pg.emu.latency = 2.0 if on else 0.0
        else:
            self.slack.dm_refused = on
        self.slack.changed()
        return {"faults": self.pg.faults()}


_background: set[asyncio.Future[None]] = set()


def spawn(work: Awaitable[None]) -> None:
    """Answer the page at once; what Slack does next arrives over the live stream."""
    task = asyncio.ensure_future(work)
    _background.add(task)
    task.add_done_callback(_finished)


def _finished(task: asyncio.Future[None]) -> None:
    _background.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.error("playground: %s", task.exception())
