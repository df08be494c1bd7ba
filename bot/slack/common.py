"""Helpers shared by the listeners: payload access, safe Slack calls, secret delivery."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.models.attachments import Attachment
from slack_sdk.models.blocks import Block
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.dataos import Token
from bot.identity import SlackProfiles, failure, slack_error
from bot.logs import request_id
from bot.slack.blocks.common import Message, info_modal, text_message
from bot.slack.blocks.keys import secret_message
from bot.store import ScheduledRevocations
from bot.store.pending import Scheduled, pending_revocations

log = logging.getLogger(__name__)


class PooledRespond(AsyncRespond):
    """Bolt's `respond()` over the bot's pooled HTTP session: Bolt's own opens a new session, and so a
    new (TLS) connection to Slack, for every call."""

    def __init__(self, *, response_url: str | None, session: aiohttp.ClientSession, client: AsyncWebClient):
        super().__init__(response_url=response_url, proxy=client.proxy, ssl=client.ssl)
        self.session = session

    async def __call__(  # the same parameters as Bolt's
        self, text: str | dict[str, Any] = "", blocks: Sequence[dict[str, Any] | Block] | None = None,
        attachments: Sequence[dict[str, Any] | Attachment] | None = None, response_type: str | None = None,
        replace_original: bool | None = None, delete_original: bool | None = None,
        unfurl_links: bool | None = None, unfurl_media: bool | None = None, thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if self.response_url is None:
            raise ValueError("respond is unsupported here as there is no response_url")
        message = dict(text) if isinstance(text, dict) else {
            "text": text, "blocks": blocks or None, "attachments": attachments or None,
            "response_type": response_type, "replace_original": replace_original,
            "delete_original": delete_original, "unfurl_links": unfurl_links, "unfurl_media": unfurl_media,
            "thread_ts": thread_ts, "metadata": metadata,
        }
        client = AsyncWebhookClient(url=self.response_url, session=self.session, proxy=self.proxy, ssl=self.ssl)
        response = await client.send_dict({k: v for k, v in message.items() if v is not None})
        if response.status_code != 200:
            # Nothing reached the person: a sixth post (used_url), a URL past its 30 minutes (expired_url), or
            # Block Kit Slack refused (invalid_blocks). Bolt does not raise; this line keeps it from being silent.
            log.warning("Slack refused a reply to a response_url (HTTP %s, %s)", response.status_code,
                        str(response.body)[:80])
        return response


def user_id(body: dict[str, Any]) -> str:
    """The acting user, from a command (`user_id`) or an interaction (`user.id`)."""
    user = body.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        return str(user["id"])
    return str(body.get("user_id") or "")


def state_block_id(view: dict[str, Any], base: str) -> str:
    """The id an input block has in this rendering of a form: `base`, or `base~<render>` when the form
    was drawn again (a new id per rendering, so Slack does not keep the previous rendering's input)."""
    values = ((view.get("state") or {}).get("values") or {})
    return next((k for k in values if k == base or k.startswith(base + "~")), base)


def state_value(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any]:
    """One input's state, `{}` when missing (a tampered or partial submission)."""
    values = ((view.get("state") or {}).get("values") or {})
    block = values.get(state_block_id(view, block_id))
    entry = block.get(action_id) if isinstance(block, dict) else None
    return entry if isinstance(entry, dict) else {}


def metadata(view: dict[str, Any]) -> dict[str, str]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def action_value(body: dict[str, Any]) -> str:
    actions = body.get("actions") or []
    if actions and isinstance(actions[0], dict):
        if "selected_option" in actions[0] and isinstance(actions[0]["selected_option"], dict):
            return str(actions[0]["selected_option"].get("value") or "")
        return str(actions[0].get("value") or "")
    return ""


def clicked_message(body: dict[str, Any]) -> tuple[str, str]:
    """(channel, ts) of the message a button sits on."""
    container = body.get("container") or {}
    return str(container.get("channel_id") or ""), str(container.get("message_ts") or "")


async def update_message(client: AsyncWebClient, channel: str, ts: str, message: Message) -> bool:
    """Replace a message the bot sent (its buttons with what was done); False (logged) if Slack refused."""
    if not channel or not ts:
        return False
    try:
        await client.chat_update(channel=channel, ts=ts, **message.kwargs())
    except SlackApiError as exc:
        log.warning("could not update message %s/%s: %s", channel, ts, slack_error(exc))
        return False
    return True


async def tell(client: AsyncWebClient, channel: str, slack_user: str, text: str) -> None:
    """An ephemeral sentence to one person in a channel; logged if Slack refused."""
    try:
        await client.chat_postEphemeral(channel=channel, user=slack_user, **text_message(text).kwargs())
    except SlackApiError as exc:
        log.warning("could not answer %s: %s", slack_user, slack_error(exc))


async def update_view(client: AsyncWebClient, view_id: str, view: dict[str, Any]) -> bool:
    """Replace a modal's content; False (logged) if Slack refused, e.g. the user closed it."""
    try:
        await client.views_update(view_id=view_id, view=view)
        return True
    except SlackApiError as exc:
        log.warning("views.update of %s failed: %s", view_id, slack_error(exc))
        return False


async def open_view(client: AsyncWebClient, trigger_id: str, view: dict[str, Any]) -> str:
    """Open a modal and return its id; raises SlackApiError (e.g. expired_trigger_id)."""
    response = await client.views_open(trigger_id=trigger_id, view=view)
    return str(response["view"]["id"])


@dataclass
class OpenForm:
    """A form opened at once (a trigger lives 3 s) and drawn again when slower checks end: the person may
    have submitted it meanwhile. `hash` is that of what the bot drew last."""

    view_id: str
    hash: str


async def open_form(client: AsyncWebClient, trigger_id: str, view: dict[str, Any]) -> OpenForm:
    """Open a form the bot may redraw (`redraw_form`); raises SlackApiError (e.g. expired_trigger_id)."""
    response = await client.views_open(trigger_id=trigger_id, view=view)
    return OpenForm(str(response["view"]["id"]), str(response["view"].get("hash") or ""))


async def redraw_form(client: AsyncWebClient, form: OpenForm, view: dict[str, Any]) -> bool:
    """Replace the form only while it still shows what the bot drew last: once it was submitted (the
    submission's answer replaced it: "Creating your key…", then the result) or redrawn by another listener,
    Slack refuses the stale hash (`hash_conflict`) and what the person sees stays. False if not replaced."""
    try:
        answer = await client.views_update(view_id=form.view_id, hash=form.hash or None, view=view)
    except SlackApiError as exc:
        if slack_error(exc) not in ("hash_conflict", "not_found"):  # submitted, or closed: nothing to say
            log.warning("views.update of %s failed: %s", form.view_id, slack_error(exc))
        return False
    form.hash = str((answer.get("view") or {}).get("hash") or "")
    return True


async def deliver_secret(client: AsyncWebClient, slack_user_id: str, token: Token, now: datetime) -> bool:
    """Send the key as an ephemeral message in the owner's DM with the bot. True if Slack took it.

    Ephemeral: not in history, search or exports, and visible to the owner only.
    """
    try:
        opened = await client.conversations_open(users=slack_user_id)
        channel = str(opened["channel"]["id"])
        await client.chat_postEphemeral(channel=channel, user=slack_user_id, **secret_message(token, now).kwargs())
    except SlackApiError as exc:
        log.warning("could not deliver key %s to %s privately: %s", token.name, slack_user_id, slack_error(exc))
        return False
    except Exception as exc:  # Slack unreachable: the modal's "Show the key here" is the way out
        log.warning("could not deliver key %s to %s privately: %s", token.name, slack_user_id, type(exc).__name__)
        return False
    return True


def oops_text() -> str:
    """For failures nobody foresaw: still a sentence, with a reference to find the log lines."""
    ref = request_id.get() or "unknown"
    return (f":x: Something went wrong on the bot's side (reference `{ref}`). Nothing was changed. "
            "Please try again in a minute; if it keeps happening, tell a platform admin.")


def apology_modal() -> dict[str, Any]:
    return info_modal("Something went wrong", oops_text())


async def apologise(client: AsyncWebClient, body: dict[str, Any], respond: Any = None) -> None:
    """Tell the person something failed, wherever the request came from (a modal or a message)."""
    view_id = str((body.get("view") or {}).get("id") or "")
    channel = str((body.get("container") or {}).get("channel_id") or "")
    try:
        if view_id:
            await client.views_update(view_id=view_id, view=apology_modal())
        elif respond is not None and (body.get("response_url") or body.get("command")):
            await respond(response_type="ephemeral", replace_original=False, **text_message(oops_text()).kwargs())
        elif channel:
            await client.chat_postEphemeral(channel=channel, user=user_id(body), **text_message(oops_text()).kwargs())
    except Exception as exc:
        log.warning("could not tell %s about a failure: %s", user_id(body), failure(exc))


async def scheduled_revocations(revocations: ScheduledRevocations, dataos_user_id: str) -> Scheduled:
    """Pending revocations of a person's keys, for their list; none when the database cannot say (the
    list is still worth showing)."""
    try:
        return await pending_revocations(revocations, dataos_user_id)
    except Exception as exc:
        log.warning("could not read the scheduled revocations of %s: %s", dataos_user_id, type(exc).__name__)
        return {}


async def active_admins(profiles: SlackProfiles, admins: Iterable[str]) -> list[str]:
    """The admins (ADMIN_SLACK_USER_IDS) to tell something: those Slack does not know as deactivated or
    gone, so a notice never goes only to a deactivated admin. One Slack cannot say about just now is kept
    (the post itself will tell); none left is an ERROR, which `apikey-bot doctor` also reports."""
    found: list[str] = []
    configured = sorted(admins)
    for admin in configured:
        try:
            profile = await profiles.get(admin)
        except Exception as exc:
            log.warning("could not look up admin %s: %s", admin, failure(exc))
            found.append(admin)
            continue
        if profile is not None and not profile.deleted:
            found.append(admin)
    if configured and not found:
        log.error("every admin in ADMIN_SLACK_USER_IDS is deactivated or unknown in Slack, so admin notices reach "
                  "nobody; add an active admin (`apikey-bot doctor` checks it)")
    return found
