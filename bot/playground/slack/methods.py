"""The Slack fake's Web API methods, as slack.com answers them (../shared/slack-payloads.md): users, chat,
conversations and views. `SlackFake._answer` calls `_m_<method with _ for .>` (after checking the
Block Kit, `rules`); a method not here answers `{"ok": true}`. The playground's `Workspace`
overrides some to keep a workspace's state.

`auth.test`, `auth.teams.list` and `users.list` are `grid`'s (a workspace, or an Enterprise Grid
organisation). Channels and members come from `directory`: `chat.postEphemeral` fails as Slack's does
(`channel_not_found`, `user_not_in_channel`, `is_archived`, `restricted_action`), and the fake remembers
what the bot posted, so `chat.update` works only on the bot's own non-ephemeral messages that exist
(`message_not_found`, `cant_update_message`)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

from bot.playground.slack.directory import BOT_USER_ID, Directory

#: How long Slack honours a trigger_id.
TRIGGER_SECONDS = 3.0


class WebApiMethods(Directory):
    """Mixed into `SlackFake`, which sets these up."""

    scopes: str
    clock: Callable[[], float]
    page_size: int
    views: dict[str, dict[str, Any]]
    posted: dict[tuple[str, str], dict[str, Any]]
    used_triggers: set[str]
    trigger_made: dict[str, float]
    _ids: itertools.count[int]
    remember_step_message: Callable[[str, str], None]  # `functions`

    def _m_users_info(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.users.get(str(p.get("user")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _m_users_lookupByEmail(self, p: dict[str, Any]) -> dict[str, Any]:
        email = str(p.get("email") or "").lower()
        for user in self.users.values():
            if email and str((user.get("profile") or {}).get("email") or "").lower() == email:
                return {"ok": True, "user": user}
        return {"ok": False, "error": "users_not_found"}

    def _m_chat_getPermalink(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel") or ""), str(p.get("message_ts") or "")
        return {"ok": True, "channel": channel,
                "permalink": f"https://acme.slack.com/archives/{channel}/p{ts.replace('.', '')}"}

    def _m_conversations_open(self, p: dict[str, Any]) -> dict[str, Any]:
        user = str(p.get("users", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": self.dm_of(user)}}

    def _m_chat_postEphemeral(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, user = str(p.get("channel") or ""), str(p.get("user") or "")
        refused = self.post_refusal(channel, ephemeral_to=user)
        if refused is not None:
            return {"ok": False, "error": refused}
        return {"ok": True, "message_ts": f"{time.time():.6f}"}

    def _m_conversations_info(self, p: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(p.get("channel") or ""))
        granted = set(self.scopes.split(","))
        if channel is None or (channel["is_private"] and not channel["is_member"]):
            return {"ok": False, "error": "channel_not_found"}  # a private channel is invisible from outside
        if ("groups:read" if channel["is_private"] else "channels:read") not in granted:
            return {"ok": False, "error": "missing_scope"}
        return {"ok": True, "channel": self.channel_info(channel)}

    def _m_usergroups_users_list(self, p: dict[str, Any]) -> dict[str, Any]:
        if "usergroups:read" not in set(self.scopes.split(",")):
            return {"ok": False, "error": "missing_scope", "needed": "usergroups:read"}
        group = self.usergroups.get(str(p.get("usergroup") or ""))
        if group is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(group["users"])}

    def _m_chat_postMessage(self, p: dict[str, Any]) -> dict[str, Any]:
        refused = self.post_refusal(str(p.get("channel", "")))
        if refused is not None:
            return {"ok": False, "error": refused}
        channel = self.conversation(str(p.get("channel", ""))) or ""
        ts = f"{1700000000 + next(self._ids)}.000100"
        message = {"text": p.get("text"), "blocks": p.get("blocks"), "ts": ts}
        if p.get("thread_ts"):  # a reply: Slack answers with the thread it went to
            message["thread_ts"] = str(p["thread_ts"])
        self.posted[(channel, ts)] = dict(message, user=BOT_USER_ID)
        self.remember_step_message(channel, ts)  # posted by a workflow step: its buttons are the step's
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def add_message(self, channel: str, ts: str, user: str, text: str = "") -> None:
        """A message someone else posted (a person, another app): the bot may not update it."""
        self.posted[(channel, ts)] = {"text": text, "blocks": None, "ts": ts, "user": user}

    def _m_chat_update(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel", "")), str(p.get("ts") or "")
        if not channel.startswith(("D", "C", "G")) or self.conversation(channel) is None:
            return {"ok": False, "error": "channel_not_found"}
        message = self.posted.get((channel, ts))
        if message is None:  # never posted, deleted, or ephemeral (Slack keeps no ephemeral message)
            return {"ok": False, "error": "message_not_found"}
        if message.get("user") != BOT_USER_ID:
            return {"ok": False, "error": "cant_update_message"}
        message.update(text=p.get("text"), blocks=p.get("blocks"))
        return {"ok": True, "channel": channel, "ts": ts, "text": p.get("text")}

    def _m_chat_delete(self, p: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(p.get("channel", "")), str(p.get("ts") or "")
        message = self.posted.get((channel, ts))
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        if message.get("user") != BOT_USER_ID:
            return {"ok": False, "error": "cant_delete_message"}
        del self.posted[(channel, ts)]
        return {"ok": True, "channel": channel, "ts": ts}

    def _store_view(self, view: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        view_id = view_id or f"V{next(self._ids):06d}"
        stored = dict(view, id=view_id, hash=f"{time.time():.0f}.{next(self._ids):08x}")
        self.views[view_id] = stored
        return stored

    def _m_views_open(self, p: dict[str, Any]) -> dict[str, Any]:
        trigger = str(p.get("trigger_id", ""))
        if not trigger or trigger in self.used_triggers or trigger.startswith("expired"):
            return {"ok": False, "error": "expired_trigger_id"}
        made = self.trigger_made.get(trigger)
        if made is not None and self.clock() - made > TRIGGER_SECONDS:
            return {"ok": False, "error": "expired_trigger_id"}
        self.used_triggers.add(trigger)
        return {"ok": True, "view": self._store_view(p["view"])}

    def _m_views_push(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._m_views_open(p)

    def _m_views_update(self, p: dict[str, Any]) -> dict[str, Any]:
        view_id = str(p.get("view_id") or "")
        if view_id not in self.views:
            return {"ok": False, "error": "not_found"}
        if p.get("hash") and p["hash"] != self.views[view_id]["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        return {"ok": True, "view": self._store_view(p["view"], view_id)}

    def _m_views_publish(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": self._store_view(p["view"], f"VHOME{p.get('user_id')}")}
