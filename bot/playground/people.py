"""What people do in the playground's Slack, and what Slack then tells the bot: signed slash commands,
clicks, submissions and events, each built from what the bot drew (never from what the page says it
drew), posted to the bot within Slack's three seconds."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from bot.playground.blockkit import TEXT_INPUTS, action_of, decoded, dispatches, find_element, view_state
from bot.playground.model import Modal, RespondTo
from bot.playground.slack import BOT_USER_ID, TEAM_ID
from bot.playground.workspace import CHANNELS, Workspace

APP_ID = "A0PLAYGROUND"
#: Slack gives a slash command, a click or a submission three seconds to be acknowledged.
ACK_SECONDS = 3.0
#: What the inspector shows for a step's function token.
MASKED_TOKEN = "xwfp-… (masked)"


class People:
    def __init__(self, slack: Workspace) -> None:
        self.slack = slack
        self._signer = SignatureVerifier(slack.signing_secret)
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def _user_ref(self, user: str) -> dict[str, Any]:
        name = str(self.slack.users[user]["name"])
        return {"id": user, "username": name, "name": name, "team_id": TEAM_ID}

    def _common(self, user: str) -> dict[str, Any]:
        return {"team": {"id": TEAM_ID, "domain": "acme"}, "user": self._user_ref(user), "api_app_id": APP_ID,
                "token": "playground", "is_enterprise_install": False, "enterprise": None}

    async def _deliver(self, body: str, content_type: str, what: str, request: Any) -> tuple[int, str, str]:
        """POST a signed request to the bot as Slack does; (status, content type, body), status 0 if it
        did not answer within Slack's three seconds."""
        if self._session is None:
            self._session = aiohttp.ClientSession()  # trust_env off: never through a proxy
        stamp = str(int(time.time()))
        signature = self._signer.generate_signature(timestamp=stamp, body=body) or ""
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp,
                   "X-Slack-Signature": signature, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"}
        started = time.perf_counter()
        try:
            async with self._session.post(self.slack.bot_url, data=body.encode(), headers=headers,
                                          timeout=aiohttp.ClientTimeout(total=ACK_SECONDS)) as answer:
                status, kind, text = answer.status, answer.content_type, await answer.text()
        except (TimeoutError, aiohttp.ClientError) as exc:
            status, kind, text = 0, "", type(exc).__name__
        shown_status = str(status) if status else "no answer in 3 s"
        self.slack.note("Slack → bot", what, shown_status, (time.perf_counter() - started) * 1000, request,
                        decoded(text, kind))
        return status, kind, text

    async def _interaction(self, payload: dict[str, Any], what: str) -> tuple[int, str, str]:
        return await self._deliver(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded",
                                   what, payload)

    async def command(self, user: str, channel: str, text: str) -> None:
        """`/apikey <text>` typed by `user` in `channel`."""
        slack = self.slack
        form = {
            "token": "playground", "team_id": TEAM_ID, "team_domain": "acme", "enterprise_id": "",
            "channel_id": channel, "channel_name": slack.channel_name(channel), "user_id": user,
            "user_name": str(slack.users[user]["name"]), "command": "/apikey", "text": text, "api_app_id": APP_ID,
            "is_enterprise_install": "false", "response_url": slack._response_url(RespondTo(user, channel)),
            "trigger_id": slack._trigger(user),
        }
        status, kind, body = await self._deliver(urlencode(form), "application/x-www-form-urlencoded",
                                                 f"/apikey {text}".strip(), form)
        if status == 0:
            slack.slackbot_says(user, channel, '/apikey failed with the error "operation_timeout"')
        elif status != 200:
            slack.slackbot_says(user, channel, f'/apikey failed with the error "http_service_error" ({status})')
        elif body.strip():
            answer = decoded(body, kind)
            if not isinstance(answer, dict):
                answer = {"text": body}
            refused = slack.check_answer("ack:command", answer)
            if refused is not None:  # Slack shows nothing of an answer it refuses, only that it failed
                slack.slackbot_says(user, channel, f'/apikey failed with the error "{refused.error}"')
                return
            public = answer.get("response_type") == "in_channel"
            slack._post(channel, BOT_USER_ID, answer, ephemeral_to=None if public else user)

    async def post(self, user: str, channel: str, text: str) -> None:
        """A message typed by `user`; the bot hears it as a `message` event in channels it is in."""
        message = self.slack._post(channel, user, {"text": text})
        if channel in CHANNELS:
            event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": message.ts,
                     "event_ts": message.ts, "channel_type": "channel"}
            await self.event(event, "message")

    async def event(self, event: dict[str, Any], what: str) -> None:
        body = {"token": "playground", "team_id": TEAM_ID, "api_app_id": APP_ID, "type": "event_callback",
                "event_id": f"Ev{next(self.slack._seq):08d}", "event_time": int(time.time()), "event": event}
        await self._deliver(json.dumps(body), "application/json", what, body)

    async def run_step(self, body: dict[str, Any]) -> None:
        """A workflow reaches one of the bot's steps: Slack sends `function_executed` (the inspector shows it
        with its function token masked)."""
        event = body["event"]
        shown = dict(body, event=dict(event, bot_access_token=MASKED_TOKEN))
        await self._deliver(json.dumps(body), "application/json",
                            f"function_executed {event['function']['callback_id']}", shown)

    async def open_home(self, user: str) -> None:
        home = self.slack.views.get(self.slack.homes.get(user, ""))
        event = {"type": "app_home_opened", "user": user, "channel": self.slack.dm(user), "tab": "home",
                 "event_ts": f"{time.time():.6f}", **({"view": home} if home else {})}
        await self.event(event, "app_home_opened")

    async def set_active(self, user: str, active: bool) -> None:
        """An admin deactivates (or reactivates) a member: Slack sends `user_change` with the whole user."""
        member = self.slack.users[user]
        member["deleted"] = not active
        self.slack.changed()
        await self.event({"type": "user_change", "user": dict(member), "event_ts": f"{time.time():.6f}"},
                         "user_change (" + ("reactivated" if active else "deactivated") + ")")

    async def click(self, user: str, handle: str, block_id: str, action_id: str, *, message_id: str | None = None,
                    view_id: str | None = None, option: str | None = None,
                    values: dict[str, Any] | None = None) -> str | None:
        """A click on the element at `handle` (as the page numbered it); None, or why it went nowhere.

        `block_id` and `action_id` are what the page drew there: when the element at `handle` is no
        longer that one (the message was redrawn meanwhile), nothing is sent."""
        slack = self.slack
        action_ts = f"{time.time():.6f}"
        payload = {"type": "block_actions", **self._common(user), "trigger_id": slack._trigger(user)}
        if message_id is not None:
            message = next((m for m in slack.messages if m.id == message_id and m.ephemeral_to in (None, user)),
                           None)
            if message is None:
                return "That message is gone."
            element = find_element(message.blocks, handle, block_id, action_id)
            payload.update(
                container={"type": "message", "message_ts": message.ts, "channel_id": message.channel,
                           "is_ephemeral": message.ephemeral_to is not None},
                channel={"id": message.channel, "name": slack.channel_name(message.channel)},
                response_url=slack._response_url(RespondTo(user, message.channel, message.id)),
                state={"values": {}},
            )
            if message.ephemeral_to is None:
                payload["message"] = {"type": "message", "ts": message.ts, "text": message.text,
                                      "blocks": message.blocks, "user": message.author, "bot_id": "B0BOT"}
                payload.update(slack.function_interaction(message.channel, message.ts) or {})  # a step's buttons
        elif view_id is not None and view_id in slack.views and self._sees_view(user, view_id):
            view = slack.views[view_id]
            element = find_element(view.get("blocks"), handle, block_id, action_id)
            state = view_state(slack.with_suggestions(view), values or {})
            if element is not None and element.get("type") in TEXT_INPUTS:
                if not dispatches(view.get("blocks"), handle):
                    return "That input sends nothing until the form is submitted."
                option = (state.get(block_id) or {}).get(action_id, {}).get("value")  # what it holds now
            payload.update(container={"type": "view", "view_id": view_id},
                           view=dict(view, state={"values": state}, team_id=TEAM_ID, app_installed_team_id=TEAM_ID))
        else:
            return "That window is closed."
        if element is None:
            return "That button has changed since it was drawn; nothing was sent. Try again."
        action = action_of(element, block_id, option)
        if action is None:
            return "That choice is not offered."
        payload["actions"] = [dict(action, action_ts=action_ts)]
        await self._interaction(payload, f"block_actions {action_id}")
        return None

    async def suggest(self, user: str, view_id: str, block_id: str, action_id: str, typed: str) -> str | None:
        """`typed` into an external select of the person's open modal: Slack sends the bot `block_suggestion`
        and offers what it answers (checked as Slack checks it); None, or why nothing was sent."""
        slack = self.slack
        view = slack.views.get(view_id)
        if view is None or not self._sees_view(user, view_id):
            return "That window is closed."
        element = next((b.get("element") for b in view.get("blocks") or [] if b.get("block_id") == block_id), None)
        if not isinstance(element, dict) or element.get("type") != "external_select" or (
                element.get("action_id") != action_id):
            return "That is not a list to type in."
        payload = {"type": "block_suggestion", **self._common(user), "container": {"type": "view", "view_id": view_id},
                   "action_id": action_id, "block_id": block_id, "value": typed,
                   "view": dict(view, state={"values": {}}, team_id=TEAM_ID, app_installed_team_id=TEAM_ID)}
        status, kind, body = await self._interaction(payload, f"block_suggestion {action_id}")
        answer = decoded(body, kind) if status == 200 and body.strip() else {}
        if not isinstance(answer, dict) or slack.check_answer("ack:block_suggestion", answer) is not None:
            answer = {}  # Slack shows no options for an answer it cannot use
        options = [o for o in answer.get("options") or [] if isinstance(o, dict)]
        slack.suggestions[(view_id, block_id, action_id)] = (typed, options)
        slack.changed()
        return None

    def _sees_view(self, user: str, view_id: str) -> bool:
        """A person clicks only in their own modals and their own Home tab."""
        modal = self.slack.modals.get(user)
        return (modal is not None and view_id in modal.stack) or self.slack.homes.get(user) == view_id

    async def submit(self, user: str, view_id: str, values: dict[str, Any]) -> None:
        slack = self.slack
        modal = slack.modals.get(user)
        if modal is None or not modal.stack or modal.stack[-1] != view_id:
            return
        view = slack.views[view_id]
        submitted = dict(view, state={"values": view_state(slack.with_suggestions(view), values)}, team_id=TEAM_ID,
                         app_installed_team_id=TEAM_ID, root_view_id=modal.stack[0],
                         previous_view_id=modal.stack[-2] if len(modal.stack) > 1 else None)
        payload = {"type": "view_submission", **self._common(user), "trigger_id": slack._trigger(user),
                   "view": submitted, "response_urls": []}
        status, kind, body = await self._interaction(payload, f"view_submission {view.get('callback_id') or ''}")
        if status != 200:
            modal.trouble = "We had some trouble connecting. Try again?"
            slack.changed()
            return
        answer = decoded(body, kind) if body.strip() else {}
        if isinstance(answer, dict) and answer and slack.check_answer("ack:view_submission", answer) is not None:
            modal.trouble = "We had some trouble connecting. Try again?"  # what Slack shows for a view it refuses
            slack.changed()
            return
        if view_id not in modal.stack:
            return  # closed meanwhile
        self._follow(modal, view_id, answer if isinstance(answer, dict) else {})
        slack.changed()

    def _follow(self, modal: Modal, view_id: str, answer: dict[str, Any]) -> None:
        """What Slack does with the modal after the bot's answer to a submission (`response_action`)."""
        action = answer.get("response_action")
        modal.trouble = None
        if action == "errors" and isinstance(answer.get("errors"), dict):
            modal.errors[view_id] = {str(k): str(v) for k, v in answer["errors"].items()}
        elif action == "update" and isinstance(answer.get("view"), dict):
            self.slack._store_view(dict(answer["view"], type="modal"), view_id)
            modal.errors.pop(view_id, None)
        elif action == "push" and isinstance(answer.get("view"), dict):
            modal.stack.append(self.slack._store_view(dict(answer["view"], type="modal"))["id"])
        elif action == "clear":
            modal.stack.clear()
        else:
            modal.stack.remove(view_id)

    async def close(self, user: str, view_id: str) -> None:
        modal = self.slack.modals.get(user)
        if modal is None or view_id not in modal.stack:
            return
        modal.stack.remove(view_id)
        modal.errors.pop(view_id, None)
        self.slack.changed()
        view = self.slack.views.get(view_id) or {}
        if view.get("notify_on_close"):
            await self._interaction({"type": "view_closed", **self._common(user), "view": view, "is_cleared": False},
                                    "view_closed")
