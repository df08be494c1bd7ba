"""Buttons: list, create, reveal, revoke, paging, "Show the key here".

A button's value is only a hint of which key: every action resolves the clicking user again and
looks the key up under *their* DataOS user, so an altered value can never reach someone else's key.
Revoke names the exact key it showed, name and expiration (`key_buttons`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.dataos import DataOSError, DataOSNotFound
from bot.identity import Denied
from bot.service import StoreUnavailable
from bot.slack import tracked
from bot.slack.approvals.gate import fit_form
from bot.slack.blocks.common import DAMAGED_BUTTON, info_modal, text_message, working_modal
from bot.slack.blocks.forms import create_modal
from bot.slack.blocks.ids import CREATE_ACTION, LIST_ACTION, PAGE_ACTION, REVEAL_ACTION, REVOKE_ACTION, SHOW_HERE_ACTION
from bot.slack.blocks.keys import secret_modal
from bot.slack.commands import open_create_form, send_key_list
from bot.slack.common import action_value, open_view, update_view, user_id
from bot.slack.errors import explain, explain_slack
from bot.slack.home import from_home, publish_home
from bot.slack.key_buttons import parse_exact, replaced_text
from bot.text import shown

log = logging.getLogger(__name__)


async def _say(respond: AsyncRespond, body: dict[str, Any], text: str) -> None:
    """A short ephemeral answer where the click happened (if it came from a message)."""
    if body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, **text_message(text).kwargs())


async def on_list(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    await send_key_list(rt, user_id(body), respond)


async def on_page(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    value = action_value(body)
    # isascii: str.isdigit() accepts "²", which int() refuses
    page = int(value) if value.isascii() and value.isdigit() and len(value) < 5 else 0
    await send_key_list(rt, user_id(body), respond, page=page, replace=True)


async def on_open_create(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
    channel = str(((body.get("channel") or {}).get("id")) or "")
    try:
        form = await open_create_form(rt, client, str(body.get("trigger_id") or ""), channel, {})
    except SlackApiError as exc:
        await _say(respond, body, ":x: " + explain_slack(exc, doing="opening the create form"))
        return
    await fit_form(rt, client, form, user_id(body), "personal", lambda p: create_modal(p, channel_id=channel))


async def _show_secret(rt: Runtime, client: AsyncWebClient, slack_user: str, view_id: str, name: str) -> None:
    title = "Your DataOS key"
    identity = await rt.keys.identify(slack_user)
    if isinstance(identity, Denied):
        await update_view(client, view_id, info_modal(title, f":no_entry: {identity.message}"))
        return
    try:
        token = await rt.keys.reveal_key(identity, name)
    except DataOSError as exc:
        await update_view(client, view_id, info_modal(
            title, ":x: " + explain(exc, doing="fetching your key", key_name=name, read=True)))
        return
    except StoreUnavailable as exc:  # a reveal through a self-link is recorded before the key is shown
        await update_view(client, view_id, info_modal(title, f":x: {exc}"))
        return
    await update_view(client, view_id, secret_modal(token, rt.clock()))


async def on_reveal(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
    """From a list message: open a modal first (the trigger expires), then fill in the key."""
    name = action_value(body)
    try:
        view_id = await open_view(client, str(body.get("trigger_id") or ""),
                                  working_modal("Your DataOS key", f"Fetching *{shown(name)}*…"))
    except SlackApiError as exc:
        await _say(respond, body, ":x: " + explain_slack(exc, doing="opening the key window"))
        return
    await _show_secret(rt, client, user_id(body), view_id, name)


async def on_show_here(rt: Runtime, body: dict[str, Any], client: AsyncWebClient) -> None:
    """From the "Key created" modal: show the key in that same modal."""
    view_id = str((body.get("view") or {}).get("id") or "")
    await _show_secret(rt, client, user_id(body), view_id, action_value(body))


async def on_revoke(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    """From a list message or the Home tab, after Slack's confirm dialog: revoke exactly the key the
    button showed (name and expiration, re-read from DataOS first), then refresh where it was pressed."""
    slack_user = user_id(body)
    parsed = parse_exact(action_value(body))

    async def answer(text: str, *, refresh: bool) -> None:
        if from_home(body):
            await publish_home(rt, slack_user, notice=text)
        elif refresh:
            await send_key_list(rt, slack_user, respond, replace=True, notice=text)
            await publish_home(rt, slack_user)
        else:
            await _say(respond, body, text)

    if parsed is None:  # on the Home tab the redraw also replaces the damaged button
        await answer(DAMAGED_BUTTON, refresh=False)
        return
    key, _ = parsed
    identity = await rt.keys.identify(slack_user)
    if isinstance(identity, Denied):
        await _say(respond, body, f":no_entry: {identity.message}")
        return
    where = "Home tab" if from_home(body) else "key list"
    try:
        # Looked up under the clicker's own DataOS user: an altered value can only miss.
        done = await rt.keys.revoke_exact(identity.dataos_user_id, key.name, key.expiration, actor=slack_user,
                                          detail=f"from the {where}")
    except DataOSError as exc:
        await answer(":x: " + explain(exc, doing="revoking your key", key_name=key.name), refresh=False)
        return
    if done.outcome == "revoked":
        await answer(f":wastebasket: Key *{shown(done.name)}* revoked.", refresh=True)
    elif done.outcome == "changed":
        await answer(f":warning: {replaced_text(done.name)} `/apikey list` shows the key that has that name now.",
                     refresh=True)
    else:
        await answer(":x: " + explain(DataOSNotFound(), doing="revoking your key", key_name=done.name), refresh=False)


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action(LIST_ACTION)
    @tracked(rt, "action", "list")
    async def list_keys(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_list(rt, body, respond)

    @app.action(re.compile(f"^{PAGE_ACTION}"))
    @tracked(rt, "action", "page")
    async def page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_page(rt, body, respond)

    @app.action(CREATE_ACTION)
    @tracked(rt, "action", "create")
    async def open_create(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await on_open_create(rt, body, client, respond)

    @app.action(REVEAL_ACTION)
    @tracked(rt, "action", "reveal")
    async def reveal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await on_reveal(rt, body, client, respond)

    @app.action(SHOW_HERE_ACTION)
    @tracked(rt, "action", "show_here")
    async def show_here(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await on_show_here(rt, body, client)

    @app.action(REVOKE_ACTION)
    @tracked(rt, "action", "revoke")
    async def revoke(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_revoke(rt, body, respond)
