"""The playground's Slack: the Web API fake with a memory of conversations, modals and Home tabs, and the
other direction too: it sends the bot signed slash commands, clicks, submissions and events, as Slack does.

What the bot posts is kept per channel (ephemeral messages for their one viewer only) and drawn for the
page by `render`; every change wakes the page's live streams. Payloads are built here from what the
bot drew (a click names a block and an action; the value and options come from the stored blocks),
so the bot gets exactly what Slack would send, and the page cannot send it anything else.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.playground import render
from bot.playground.clock import PlayClock
from bot.playground.slack import BOT_USER_ID, TEAM_ID, SlackCall, SlackFake
from bot.text import escape

log = logging.getLogger(__name__)
APP_ID = "A0PLAYGROUND"
BOT_NAME = "DataOS API keys"
SLACKBOT = "USLACKBOT"
#: Slack gives a slash command, a click or a submission three seconds to be acknowledged.
ACK_SECONDS = 3.0
#: A trigger_id opens a modal only within three seconds of the command or click that made it.
TRIGGER_SECONDS = 3.0
#: A response_url takes five posts within thirty minutes (Slack's limits); then Slack answers 404.
RESPONSE_URL_POSTS = 5
RESPONSE_URL_SECONDS = 30 * 60
CHANNELS = {"C0GENERAL": "general", "C0AUDIT": "apikey-audit"}
INSPECTOR_ROWS = 300


@dataclass
class Message:
    id: str
    channel: str
    ts: str
    author: str
    text: str
    blocks: list[Any]
    ephemeral_to: str | None = None
    edited: bool = False
    thread_ts: str | None = None


@dataclass
class RespondTo:
    """Where a response_url's posts go: the person, their channel, and the message clicked (if any)."""

    user: str
    channel: str
    message_id: str | None = None
    made: float = 0.0  # on the trigger clock
    posts: int = 0


@dataclass
class Persona:
    user_id: str
    name: str
    email: str
    tz: str
    note: str


@dataclass
class Modal:
    stack: list[str] = field(default_factory=list)
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    trouble: str | None = None  # Slack's own words when the bot did not answer a submission


class Workspace(SlackFake):
    def __init__(self, clock: PlayClock, bot_url: str, signing_secret: str, token: str,
                 trigger_clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(token=token, clock=clock.monotonic)
        self.rate_limits = {}  # a handful of people: Tier 2 limits would only slow the demo
        self.play = clock
        self.bot_url = bot_url.rstrip("/") + "/slack/events"
        self._signer = SignatureVerifier(signing_secret)
        self.trigger_clock = trigger_clock
        self.personas: list[Persona] = []
        self.messages: list[Message] = []
        self.modals: dict[str, Modal] = {}
        self.homes: dict[str, str] = {}
        self.triggers: dict[str, tuple[str, float]] = {}
        self.respond_to: dict[str, RespondTo] = {}
        self.dm_refused = False
        self.ready = False
        self.inspector: list[dict[str, Any]] = []
        self.masker: Callable[[str], str] = lambda text: text
        self._seq = itertools.count(1)
        self._listeners: set[asyncio.Queue[str]] = set()
        self._session: aiohttp.ClientSession | None = None
        for channel_id, name in CHANNELS.items():  # the bot is in both (conversations.info says so)
            self.add_channel(channel_id, name)

    # ---- people and places -------------------------------------------------------------------

    def add_persona(self, user_id: str, name: str, email: str, tz: str, note: str) -> None:
        offset = ZoneInfo(tz).utcoffset(self.play.now().replace(tzinfo=None))
        user = self.add_user(user_id, email, tz=tz, tz_offset=int(offset.total_seconds()) if offset else 0, name=name)
        user["name"] = email.split("@", 1)[0]  # the handle people type after @; the full name is real_name
        self.personas.append(Persona(user_id, name, email, tz, note))

    def dm(self, user: str) -> str:
        return "D" + user[1:]

    def channel_name(self, channel: str) -> str:
        return CHANNELS.get(channel) or ("directmessage" if channel.startswith("D") else channel)

    def _user_of_dm(self, channel: str) -> str | None:
        user = "U" + channel[1:]
        return user if channel.startswith("D") and user in self.users else None

    def _ts(self) -> str:
        return f"{int(self.play.now().timestamp())}.{next(self._seq):06d}"

    # ---- live updates ------------------------------------------------------------------------

    def changed(self, what: str = "state") -> None:
        for queue in list(self._listeners):
            if queue.qsize() < 100:
                queue.put_nowait(what)

    def listen(self) -> asyncio.Queue[str]:
        queue: asyncio.Queue[str] = asyncio.Queue()
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[str]) -> None:
        self._listeners.discard(queue)

    def note(self, route: str, what: str, status: str, ms: float, request: Any, response: Any) -> None:
        """One row of the inspector; secrets masked before they are kept."""
        self.inspector.append({
            "n": next(self._seq), "at": self.play.now().strftime("%H:%M:%S"), "route": route, "what": what,
            "status": status, "ms": round(ms, 1), "request": self.masker(_pretty(request)),
            "response": self.masker(_pretty(response)),
        })
        del self.inspector[:-INSPECTOR_ROWS]
        self.changed("inspector")

    def recorded(self, call: SlackCall) -> None:
        del self.calls[:-1000]  # a long session keeps the inspector's rows, not every call
        ms = (time.monotonic() - call.at) * 1000
        headers = masked_headers(call.headers, secret=("authorization",))
        ok = call.result.get("ok")
        status = "ok" if ok is True else str(call.result.get("error") or call.status)
        what = call.method if call.method != "response_url" else "POST response_url"
        self.note("bot → Slack", what, status, ms, {"headers": headers, "body": call.params}, call.result)

    # ---- Web API methods the bot calls -------------------------------------------------------

    def _post(self, channel: str, author: str, p: dict[str, Any], ephemeral_to: str | None = None) -> Message:
        blocks = _blocks(p)
        thread = p.get("thread_ts")
        message = Message(f"M{next(self._seq)}", channel, self._ts(), author, str(p.get("text") or ""), blocks,
                          ephemeral_to, thread_ts=str(thread) if thread else None)
        self.messages.append(message)
        self.changed()
        return message

    def _conversation(self, raw: Any) -> str | None:
        channel = str(raw or "")
        if channel.startswith(("U", "W")) and channel in self.users:
            channel = self.dm(channel)
        if channel in CHANNELS or self._user_of_dm(channel):
            return channel
        return None

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if self.dm_refused and channel.startswith("D"):
            return {"ok": False, "error": "messages_tab_disabled"}
        message = self._post(channel, BOT_USER_ID, p)
        return {"ok": True, "channel": channel, "ts": message.ts,
                "message": {"text": message.text, "blocks": message.blocks, "ts": message.ts}}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        user = str(p.get("user") or "")
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        if self.dm_refused and channel.startswith("D"):
            return {"ok": False, "error": "messages_tab_disabled"}
        return {"ok": True, "message_ts": self._post(channel, BOT_USER_ID, p, ephemeral_to=user).ts}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        for message in self.messages:
            if message.channel == channel and message.ts == ts and message.ephemeral_to is None:
                message.text = str(p.get("text") or "")
                message.blocks = _blocks(p)
                message.edited = True
                self.changed()
                return {"ok": True, "channel": channel, "ts": ts, "text": message.text}
        return {"ok": False, "error": "message_not_found" if self._conversation(channel) else "channel_not_found"}

    def _m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        before = len(self.messages)
        self.messages = [m for m in self.messages if not (m.channel == channel and m.ts == ts)]
        self.changed()
        return {"ok": True} if len(self.messages) < before else {"ok": False, "error": "message_not_found"}

    def _take_trigger(self, trigger: str) -> tuple[str | None, str | None]:
        """(user, error): a trigger opens one modal, within TRIGGER_SECONDS of being made."""
        made = self.triggers.pop(trigger, None)
        if made is None:
            return None, "invalid_trigger_id" if trigger not in self.used_triggers else "expired_trigger_id"
        self.used_triggers.add(trigger)
        user, at = made
        if self.trigger_clock() - at > TRIGGER_SECONDS:
            return None, "expired_trigger_id"
        return user, None

    def _open(self, p: dict[str, Any], push: bool) -> dict[str, Any]:
        user, error = self._take_trigger(str(p.get("trigger_id") or ""))
        if user is None or not isinstance(p.get("view"), dict):
            return {"ok": False, "error": error or "invalid_arguments"}
        modal = self.modals.setdefault(user, Modal())
        if push and not modal.stack:
            return {"ok": False, "error": "not_found"}
        view = self._store_view(dict(p["view"], type="modal"))
        if push:
            modal.stack.append(view["id"])
        else:
            modal.stack = [view["id"]]
            modal.errors.clear()
        modal.trouble = None
        self.changed()
        return {"ok": True, "view": view}

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._open(p, push=False)

    def _m_views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._open(p, push=True)

    def _m_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        view_id = str(p.get("view_id") or "")
        if not any(view_id in m.stack for m in self.modals.values()) and view_id not in self.homes.values():
            return {"ok": False, "error": "not_found"}  # closed by the person
        result = super()._m_views_update(p)
        for modal in self.modals.values():
            modal.errors.pop(view_id, None)
        self.changed()
        return result

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        user = str(p.get("user_id") or "")
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        result = super()._m_views_publish(p)
        self.homes[user] = result["view"]["id"]
        self.changed()
        return result

    def respond(self, token: str, body: dict[str, Any]) -> dict[str, Any] | None:
        target = self.respond_to.get(token)
        if target is None or self.trigger_clock() - target.made > RESPONSE_URL_SECONDS:
            return {"ok": False, "error": "expired_url"}
        if target.posts >= RESPONSE_URL_POSTS:
            return {"ok": False, "error": "used_url"}
        target.posts += 1
        original = next((m for m in self.messages if m.id == target.message_id), None)
        if body.get("delete_original") and original is not None:
            self.messages.remove(original)
        elif body.get("replace_original") and original is not None:
            original.text = str(body.get("text") or "")
            original.blocks = _blocks(body)
            original.edited = original.ephemeral_to is None
        else:
            public = body.get("response_type") == "in_channel"
            self._post(target.channel, BOT_USER_ID, body, ephemeral_to=None if public else target.user)
        self.changed()
        return None

    # ---- what people do (the page asks; Slack tells the bot) ---------------------------------

    def _trigger(self, user: str) -> str:
        trigger = f"{next(self._seq)}.{int(time.time())}.{secrets.token_hex(8)}"
        self.triggers[trigger] = (user, self.trigger_clock())
        return trigger

    def _response_url(self, target: RespondTo) -> str:
        token = secrets.token_urlsafe(12)
        target.made = self.trigger_clock()
        self.respond_to[token] = target
        return f"{self.url}/respond/{token}"

    def _user_ref(self, user: str) -> dict[str, Any]:
        name = str(self.users[user]["name"])
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    def _common(self, user: str) -> dict[str, Any]:
        return {"team": {"id": TEAM_ID, "domain": "acme"}, "user": self._user_ref(user), "api_app_id": APP_ID,
                "token": "playground", "is_enterprise_install": False, "enterprise": None}

    async def _deliver(self, body: str, content_type: str, what: str, request: Any) -> tuple[int, str, str]:
        """POST a signed request to the bot as Slack does; (status, content type, body), status 0 if it
        did not answer within Slack's three seconds."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        stamp = str(int(time.time()))
        signature = self._signer.generate_signature(timestamp=stamp, body=body) or ""
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": signature, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        started = time.perf_counter()
        try:
            async with self._session.post(self.bot_url, data=body.encode(), headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=ACK_SECONDS)) as answer:
                status, kind, text = answer.status, answer.content_type, await answer.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, kind, text = 0, "", type(exc).__name__
        shown_status = str(status) if status else "no answer in 3 s"
        self.note("Slack → bot", what, shown_status, (time.perf_counter() - started) * 1000, request,
                  _decoded(text, kind))
        return status, kind, text

    def _slackbot_says(self, user: str, channel: str, text: str) -> None:
        self._post(channel, SLACKBOT, {"text": text}, ephemeral_to=user)

    async def command(self, user: str, channel: str, text: str) -> None:
        """`/apikey <text>` typed by `user` in `channel`."""
        target = RespondTo(user, channel)
        form = {
            "token": "playground", "team_id": TEAM_ID, "team_domain": "acme", "enterprise_id": "",
            "channel_id": channel, "channel_name": self.channel_name(channel), "user_id": user,
            "user_name": str(self.users[user]["name"]), "command": "/apikey",
            "text": escape(text), "api_app_id": APP_ID,  # as Slack sends it: `&`, `<`, `>` escaped
            "is_enterprise_install": "false", "response_url": self._response_url(target),
            "trigger_id": self._trigger(user),
        }
        status, kind, body = await self._deliver(urlencode(form), "application/x-www-form-urlencoded",
                                                 f"/apikey {text}".strip(), form)
        if status == 0:
            self._slackbot_says(user, channel, '/apikey failed with the error "operation_timeout"')
        elif status != 200:
            self._slackbot_says(user, channel, f'/apikey failed with the error "http_service_error" ({status})')
        elif body.strip():
            answer = _decoded(body, kind)
            if not isinstance(answer, dict):
                answer = {"text": body}
            public = answer.get("response_type") == "in_channel"
            self._post(channel, BOT_USER_ID, answer, ephemeral_to=None if public else user)

    async def post(self, user: str, channel: str, text: str) -> None:
        """A message typed by `user`; the bot hears it as a `message` event in channels it is in."""
        message = self._post(channel, user, {"text": text})
        if channel in CHANNELS:
            event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": message.ts,
                     "event_ts": message.ts, "channel_type": "channel"}
            await self.event(event, "message")

    async def event(self, event: dict[str, Any], what: str) -> None:
        body = {"token": "playground", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
                "event_id": f"Ev{next(self._seq):08d}", "event_time": int(time.time()), "event": event}
        await self._deliver(json.dumps(body), "application/json", what, body)

    async def open_home(self, user: str) -> None:
        home = self.views.get(self.homes.get(user, ""))
        event = {"type": "app_home_opened", "user": user, "channel": self.dm(user), "tab": "home",
                 "event_ts": f"{time.time():.6f}", **({"view": home} if home else {})}
        await self.event(event, "app_home_opened")

    def dismiss(self, user: str, message_id: str) -> None:
        self.messages = [m for m in self.messages if not (m.id == message_id and m.ephemeral_to == user)]
        self.changed()

    async def click(self, user: str, block_id: str, action_id: str, *, message_id: str | None = None,
                    view_id: str | None = None, option: str | None = None,
                    values: dict[str, Any] | None = None) -> str | None:
        """A click on a button, a menu item or a select; None, or why the click went nowhere."""
        action_ts = f"{time.time():.6f}"
        payload = {"type": "block_actions", **self._common(user), "trigger_id": self._trigger(user)}
        if message_id is not None:
            message = next((m for m in self.messages if m.id == message_id and m.ephemeral_to in (None, user)), None)
            if message is None:
                return "That message is gone."
            element = find_element(message.blocks, block_id, action_id)
            payload.update(
                container={"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                           "is_ephemeral": message.ephemeral_to is not None},
                channel={"id": message.channel, "name": self.channel_name(message.channel)},
                response_url=self._response_url(RespondTo(user, message.channel, message.id)),
                state={"values": {}},
            )
            if message.ephemeral_to is None:
                payload["message"] = {"type": "message", "ts": message.ts, "text": message.text,
                                      "blocks": message.blocks, "user": message.author, "bot_id": "B0BOT"}
        elif view_id is not None and view_id in self.views:
            view = self.views[view_id]
            element = find_element(view.get("blocks"), block_id, action_id)
            state = self.view_state(view, values or {})
            payload.update(container={"type": "view", "view_id": view_id},
                           view=dict(view, state={"values": state}, team_id=TEAM_ID, app_installed_team_id=TEAM_ID))
        else:
            return "That window is closed."
        if element is None:
            return "That button is gone."
        action = action_of(element, block_id, option)
        if action is None:
            return "That choice is not offered."
        payload["actions"] = [dict(action, action_ts=action_ts)]
        await self._deliver(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded",
                            f"block_actions {action_id}", payload)
        return None

    def view_state(self, view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        """`view.state.values` as Slack builds it from what was typed or chosen in the page."""
        state: dict[str, Any] = {}
        for block in view.get("blocks") or []:
            element = block.get("element") if block.get("type") == "input" else None
            if not isinstance(element, dict):
                continue
            block_id, action_id = str(block.get("block_id") or ""), str(element.get("action_id") or "")
            raw = (values.get(block_id) or {}).get(action_id)
            state.setdefault(block_id, {})[action_id] = input_value(element, raw)
        return state

    async def submit(self, user: str, view_id: str, values: dict[str, Any]) -> None:
        modal = self.modals.get(user)
        if modal is None or not modal.stack or modal.stack[-1] != view_id:
            return
        view = self.views[view_id]
        submitted = dict(view, state={"values": self.view_state(view, values)}, team_id=TEAM_ID,
                         app_installed_team_id=TEAM_ID, root_view_id=modal.stack[0],
                         previous_view_id=modal.stack[-2] if len(modal.stack) > 1 else None)
        payload = {"type": "view_submission", **self._common(user), "trigger_id": self._trigger(user),
                   "view": submitted, "response_urls": []}
        status, kind, body = await self._deliver(urlencode({"payload": json.dumps(payload)}),
                                                 "application/x-www-form-urlencoded",
                                                 f"view_submission {view.get('callback_id') or ''}", payload)
        if status != 200:
            modal.trouble = "We had some trouble connecting. Try again?"
            self.changed()
            return
        answer = _decoded(body, kind) if body.strip() else {}
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if view_id not in modal.stack:
            return  # closed meanwhile
        modal.trouble = None
        if action == "errors" and isinstance(answer.get("errors"), dict):
            modal.errors[view_id] = {str(k): str(v) for k, v in answer["errors"].items()}
        elif action == "update" and isinstance(answer.get("view"), dict):
            self._store_view(dict(answer["view"], type="modal"), view_id)
            modal.errors.pop(view_id, None)
        elif action == "push" and isinstance(answer.get("view"), dict):
            modal.stack.append(self._store_view(dict(answer["view"], type="modal"))["id"])
        elif action == "clear":
            modal.stack.clear()
        else:
            modal.stack.remove(view_id)
        self.changed()

    async def close(self, user: str, view_id: str) -> None:
        modal = self.modals.get(user)
        if modal is None or view_id not in modal.stack:
            return
        modal.stack.remove(view_id)
        modal.errors.pop(view_id, None)
        self.changed()
        view = self.views.get(view_id) or {}
        if view.get("notify_on_close"):
            payload = {"type": "view_closed", **self._common(user), "view": view, "is_cleared": False}
            await self._deliver(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded",
                                "view_closed", payload)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    # ---- what one person sees ----------------------------------------------------------------

    def viewer(self, user: str) -> render.Viewer:
        names = {uid: str(u.get("profile", {}).get("real_name") or u["name"]) for uid, u in self.users.items()}
        names[BOT_USER_ID] = BOT_NAME
        tz = ZoneInfo(str(self.users.get(user, {}).get("tz") or "UTC"))
        return render.Viewer(user, tz, self.play.now(), names, CHANNELS)

    def visible(self, user: str, channel: str) -> Iterator[Message]:
        for message in self.messages:
            if message.channel == channel and message.ephemeral_to in (None, user):
                yield message

    def snapshot(self, user: str) -> dict[str, Any]:
        """Everything the page draws for `user`, as HTML made by `render`."""
        viewer = self.viewer(user)
        conversations = {}
        for channel in [*CHANNELS, self.dm(user)]:
            conversations[channel] = "".join(
                render.message_html(m.id, self._author(m.author), m.ts, m.text, m.blocks, viewer,
                                    ephemeral=m.ephemeral_to is not None, edited=m.edited,
                                    in_thread=m.thread_ts is not None)
                for m in self.visible(user, channel))
        modal = self.modals.get(user) or Modal()
        top = modal.stack[-1] if modal.stack else None
        modal_html = None
        if top is not None:
            modal_html = render.view_html(self.views[top], viewer, modal.errors.get(top), trouble=modal.trouble,
                                          depth=len(modal.stack))
        home = self.views.get(self.homes.get(user, ""))
        return {
            "conversations": conversations,
            "modal": {"id": top, "html": modal_html} if top else None,
            "home": {"id": home.get("id"), "html": render.blocks_html(home.get("blocks"), viewer)} if home else None,
            "dm": self.dm(user),
        }

    def _author(self, user: str) -> tuple[str, bool]:
        if user == BOT_USER_ID:
            return BOT_NAME, True
        if user == SLACKBOT:
            return "Slackbot", False
        return str((self.users.get(user) or {}).get("profile", {}).get("real_name") or user), False


def find_element(blocks: Any, block_id: str, action_id: str) -> dict[str, Any] | None:
    """The interactive element a click names, as the bot drew it."""
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict) or str(block.get("block_id") or "") != block_id:
            continue
        candidates = [block.get("accessory"), block.get("element"), *(block.get("elements") or [])]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        found += [o for o in (group.get("options") or []) if isinstance(o, dict)]
    return found


def _option(element: dict[str, Any], value: Any) -> dict[str, Any] | None:
    return next((o for o in _options(element) if o.get("value") == value), None)


def action_of(element: dict[str, Any], block_id: str, option: str | None) -> dict[str, Any] | None:
    """The `actions[0]` Slack sends for a click on `element`."""
    kind = str(element.get("type") or "")
    action: dict[str, Any] = {"type": kind, "action_id": element.get("action_id"), "block_id": block_id}
    if kind == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        return action
    chosen = _option(element, option)
    if chosen is None:
        return None
    action["selected_option"] = chosen
    return action


def input_value(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    """One entry of `state.values`, typed as Slack types it; options come from the element, by value."""
    kind = str(element.get("type") or "")
    if kind in ("static_select", "radio_buttons", "external_select"):
        return {"type": kind, "selected_option": _option(element, raw)}
    if kind == "checkboxes":
        chosen = [o for o in _options(element) if isinstance(raw, list) and o.get("value") in raw]
        return {"type": kind, "selected_options": chosen}
    if kind == "datepicker":
        return {"type": kind, "selected_date": raw if isinstance(raw, str) and raw else None}
    return {"type": kind, "value": raw if isinstance(raw, str) and raw != "" else None}


def masked_headers(headers: dict[str, str], secret: tuple[str, ...]) -> dict[str, str]:
    """The headers the inspector shows: the content type, and the credentials as dots."""
    return {name: "••••" if name.lower() in secret else value for name, value in headers.items()
            if name.lower() in (*secret, "content-type")}


def _blocks(params: dict[str, Any]) -> list[Any]:
    blocks = params.get("blocks")
    return blocks if isinstance(blocks, list) else []


def _decoded(text: str, kind: str) -> Any:
    if "json" in kind:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
