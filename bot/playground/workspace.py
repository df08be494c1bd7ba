"""The playground's Slack: the Web API fake with a memory of conversations, modals and Home tabs (what
people do, and what Slack then sends the bot, is `people.py`).

What the bot posts is kept per channel and drawn for the page by `render`; every change wakes the
page's live streams. Every block gets a `block_id` when it is stored (Slack makes one up when the app
gives none). An ephemeral message is held for its one viewer's open pages only, as Slack's client holds
it: a page opened (or reloaded) later does not get it, and once no page holds it, it is forgotten.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.playground import render
from bot.playground.blockkit import masked_headers, pretty, with_block_ids
from bot.playground.clock import PlayClock
from bot.playground.model import Message, Modal, Persona, RespondTo
from bot.playground.slack import BOT_USER_ID, SlackCall, SlackFake

BOT_NAME = "DataOS API keys"
SLACKBOT = "USLACKBOT"
#: A trigger_id opens a modal only within three seconds of the command or click that made it.
TRIGGER_SECONDS = 3.0
WORKSPACE_URL = "https://acme.slack.com"
CHANNELS = {"C0GENERAL": "general", "C0AUDIT": "apikey-audit", "C0DATAENG": "data-eng",
            "C0APPROVALS": "apikey-approvals"}
INSPECTOR_ROWS = 300


class Workspace(SlackFake):
    def __init__(self, clock: PlayClock, bot_url: str, signing_secret: str, token: str,
                 trigger_clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(token=token, clock=clock.monotonic)
        self.rate_limits = {}  # a handful of people: Tier 2 limits would only slow the demo
        self.url_clock = trigger_clock  # "+1 day" moves the bot's clock, not how long a response_url lives
        self.play = clock
        self.bot_url = bot_url.rstrip("/") + "/slack/events"
        self.signing_secret = signing_secret
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
        self.inspector_dropped = 0  # rows let go of (the inspector keeps the newest INSPECTOR_ROWS)
        self.masker: Callable[[str], str] = lambda text: text
        self.pages: dict[int, tuple[str, int]] = {}  # open pages: page id -> (person, seq when opened)
        # What the bot last answered to typing in an external select: (view, block, action) -> (typed, options)
        self.suggestions: dict[tuple[str, str, str], tuple[str, list[dict[str, Any]]]] = {}
        self._seq = itertools.count(1)
        self._listeners: set[asyncio.Queue[str]] = set()
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

    def is_active(self, user: str) -> bool:
        return not (self.users.get(user) or {}).get("deleted")

    # ---- open pages (what holds ephemeral messages) ------------------------------------------

    def open_page(self, user: str) -> int:
        """A page (a browser tab's live stream) opened as `user`: it holds what arrives from now on."""
        page = next(self._seq)
        self.pages[page] = (user, page)
        return page

    def close_page(self, page: int) -> None:
        """The page went away (closed, reloaded): ephemeral messages no open page holds are forgotten."""
        user, _ = self.pages.pop(page, ("", 0))
        held_from = min((since for who, since in self.pages.values() if who == user), default=None)
        self.messages = [m for m in self.messages if m.ephemeral_to != user or
                         (held_from is not None and m.seq > held_from)]

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
            # The playground's clock (it may be days ahead of the wall clock), as the bot and DataOS see it.
            "n": next(self._seq), "at": self.play.now().strftime("%a %d %b %H:%M:%S"), "route": route,
            "what": what, "status": status, "ms": round(ms, 1), "request": self.masker(pretty(request)),
            "response": self.masker(pretty(response)),
        })
        if len(self.inspector) > INSPECTOR_ROWS:
            self.inspector_dropped += len(self.inspector) - INSPECTOR_ROWS
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
        if call.method.startswith("functions.complete"):
            self.changed()  # a workflow step ended: the Workflows control shows its outputs

    # ---- Web API methods the bot calls -------------------------------------------------------

    def _post(self, channel: str, author: str, p: dict[str, Any], ephemeral_to: str | None = None) -> Message:
        blocks = with_block_ids(p.get("blocks"))
        thread = p.get("thread_ts")
        seq = next(self._seq)
        message = Message(f"M{seq}", channel, self._ts(), author, str(p.get("text") or ""), blocks,
                          ephemeral_to, thread_ts=str(thread) if thread else None, seq=seq)
        if ephemeral_to is not None and all(who != ephemeral_to for who, _ in self.pages.values()):
            return message  # nobody has a page open to show it: Slack's client would not get it either
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
        refused = self.post_refusal(str(p.get("channel") or ""))
        if channel is None or refused is not None:
            return {"ok": False, "error": refused or "channel_not_found"}
        if self.dm_refused and channel.startswith("D"):
            return {"ok": False, "error": "messages_tab_disabled"}
        message = self._post(channel, BOT_USER_ID, p)
        self.remember_step_message(channel, message.ts)  # posted by a workflow step: its buttons are the step's
        return {"ok": True, "channel": channel, "ts": message.ts,
                "message": {"text": message.text, "blocks": message.blocks, "ts": message.ts}}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self._conversation(p.get("channel"))
        user = str(p.get("user") or "")
        refused = self.post_refusal(str(p.get("channel") or ""), ephemeral_to=user)
        if channel is None or refused is not None:
            return {"ok": False, "error": refused or "channel_not_found"}
        if self.dm_refused and channel.startswith("D"):
            return {"ok": False, "error": "messages_tab_disabled"}
        return {"ok": True, "message_ts": self._post(channel, BOT_USER_ID, p, ephemeral_to=user).ts}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        """Only the bot's own messages, and no ephemeral one (Slack keeps none to update)."""
        channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
        for message in self.messages:
            if message.channel == channel and message.ts == ts and message.ephemeral_to is None:
                if message.author != BOT_USER_ID:
                    return {"ok": False, "error": "cant_update_message"}
                message.text = str(p.get("text") or "")
                message.blocks = with_block_ids(p.get("blocks"))
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

    def _m_chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        """Slack's link to a message; the page opens links to its workspace's messages itself."""
        channel, ts = str(p.get("channel") or ""), str(p.get("message_ts") or "")
        if not any(m.channel == channel and m.ts == ts and m.ephemeral_to is None for m in self.messages):
            return {"ok": False, "error": "message_not_found"}
        link = f"{WORKSPACE_URL}/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        return super()._store_view(dict(view, blocks=with_block_ids(view.get("blocks"))), view_id)

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

    def respond(self, token: str, body: dict[str, Any], effect: str) -> dict[str, Any] | None:
        """A post the response_url took (`urls` counted and checked it): on a button's message,
        `effect` says whether it replaces or deletes it; a command's answer is never replaced."""
        target = self.respond_to.get(token)
        if target is None or effect == "ignored":
            return None
        original = next((m for m in self.messages if m.id == target.message_id), None)
        if effect == "deleted" and original is not None:
            self.messages.remove(original)
        elif effect == "replaced" and original is not None:
            original.text = str(body.get("text") or "")
            original.blocks = with_block_ids(body.get("blocks"))
            original.edited = original.ephemeral_to is None
        else:
            public = body.get("response_type") == "in_channel"
            self._post(target.channel, BOT_USER_ID, body, ephemeral_to=None if public else target.user)
        self.changed()
        return None

    # ---- what the people side needs (people.py) ----------------------------------------------

    def _trigger(self, user: str) -> str:
        trigger = f"{next(self._seq)}.{int(time.time())}.{secrets.token_hex(8)}"
        self.triggers[trigger] = (user, self.trigger_clock())
        return trigger

    def _response_url(self, target: RespondTo) -> str:
        url, token = self.issue_response_url(command=target.message_id is None, token=secrets.token_urlsafe(12))
        self.respond_to[token] = target
        return url

    def slackbot_says(self, user: str, channel: str, text: str) -> None:
        self._post(channel, SLACKBOT, {"text": text}, ephemeral_to=user)

        for channel_id, name in CHANNELS.items():  # the bot is in both (conversations.info says so)
            self.add_channel(channel_id, name)
    def dismiss(self, user: str, message_id: str) -> None:
        self.messages = [m for m in self.messages if not (m.id == message_id and m.ephemeral_to == user)]
        self.changed()

    # ---- what one person sees ----------------------------------------------------------------

    def viewer(self, user: str) -> render.Viewer:
        names = {uid: str(u.get("profile", {}).get("real_name") or u["name"]) for uid, u in self.users.items()}
        names[BOT_USER_ID] = BOT_NAME
        names.update({gid: str(g["handle"]) for gid, g in self.usergroups.items()})
        tz = ZoneInfo(str(self.users.get(user, {}).get("tz") or "UTC"))
        return render.Viewer(user, tz, self.play.now(), names, CHANNELS)

    def visible(self, user: str, channel: str, since: int = 0) -> Iterator[Message]:
        """What `user` sees in `channel` on a page opened at `since`: every message, and their own
        ephemeral ones that arrived while that page was open."""
        for message in self.messages:
            if message.channel == channel and (message.ephemeral_to is None or
                                               (message.ephemeral_to == user and message.seq > since)):
                yield message

    def conversation_html(self, user: str, channel: str, viewer: render.Viewer, since: int = 0) -> str:
        """A conversation as Slack's client draws it: the messages of each day, in the person's time zone,
        under that day's divider ("Today", "Monday, December 7th")."""
        days: list[tuple[date, list[str]]] = []
        for m in self.visible(user, channel, since):
            when = datetime.fromtimestamp(int(m.ts.split(".", 1)[0]), viewer.tz).date()
            if not days or days[-1][0] != when:
                days.append((when, []))
            days[-1][1].append(render.message_html(m.id, self._author(m.author), m.ts, m.text, m.blocks, viewer,
                                                   ephemeral=m.ephemeral_to is not None, edited=m.edited,
                                                   in_thread=m.thread_ts is not None))
        return "".join(render.day_html(when, viewer, "".join(messages)) for when, messages in days)

    def with_suggestions(self, view: dict[str, Any]) -> dict[str, Any]:
        """`view` as Slack's client holds it: each external select with the options the bot last answered
        to what was typed in it (what can be picked, and what a pick then sends)."""
        view_id = str(view.get("id") or "")
        blocks = []
        for block in view.get("blocks") or []:
            element = block.get("element") if isinstance(block, dict) else None
            if isinstance(element, dict) and element.get("type") == "external_select":
                key = (view_id, str(block.get("block_id") or ""), str(element.get("action_id") or ""))
                if key in self.suggestions:
                    typed, options = self.suggestions[key]
                    block = dict(block, element=dict(element, options=options, _typed=typed))
            blocks.append(block)
        return dict(view, blocks=blocks)

    def snapshot(self, user: str, since: int = 0) -> dict[str, Any]:
        """Everything the page draws for `user` (on a page opened at `since`), as HTML made by `render`."""
        viewer = self.viewer(user)
        conversations = {channel: self.conversation_html(user, channel, viewer, since)
                         for channel in [*CHANNELS, self.dm(user)]}
        modal = self.modals.get(user) or Modal()
        top = modal.stack[-1] if modal.stack else None
        modal_html = None
        if top is not None:
            modal_html = render.view_html(self.with_suggestions(self.views[top]), viewer, modal.errors.get(top),
                                          trouble=modal.trouble,
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


