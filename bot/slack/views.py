"""Modal submissions: create, revoke, link.

Validation errors go back inline (`response_action: errors`, keyed by the input block). Otherwise the
modal switches to a "working" view in the acknowledgement and the result follows with views.update:
the only valid answers to a submission are acks, and a new modal cannot be opened from one.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import SecretStr
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.dataos import DataOSConflict, DataOSError, DataOSNotFound, Token
from bot.service import Duplicate, LinkRefused, StoreUnavailable
from bot.slack import tracked
from bot.slack.approvals.gate import govern
from bot.slack.blocks.common import info_modal, render_id, slack_date, working_modal
from bot.slack.blocks.forms import create_modal, created_modal
from bot.slack.blocks.ids import (
    CREATE_VIEW,
    LINK_BLOCK,
    LINK_INPUT,
    LINK_VIEW,
    NAME_BLOCK,
    REVOKE_PICK_BLOCK,
    REVOKE_PICK_INPUT,
    REVOKE_VIEW,
)
from bot.slack.blocks.teams import revoked_line
from bot.slack.common import deliver_secret, metadata, state_block_id, state_value, update_view, user_id
from bot.slack.errors import explain
from bot.slack.forms import begin, has_banner, keep_what_was_there, read_create_form, redraw_create_form
from bot.slack.home import publish_home
from bot.slack.key_buttons import ExactKey, exact_key, parse_option, replaced_text
from bot.slack.links import tell_others
from bot.slack.owners import act_as
from bot.slack.teams.channel import tell_channel
from bot.slack.teams.keys import chosen_for, submit_team_create
from bot.text import shown

log = logging.getLogger(__name__)





async def submit_create(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                        client: AsyncWebClient) -> None:
    name, hours, errors = read_create_form(rt, view)
    if errors or hours is None:
        if has_banner(view):
            # The banner spoke of what the form was opened (or last drawn) with: only what is wrong now may
            # show, and a form with a banner cannot lose it by inline errors. So it is drawn again.
            name_error = errors.pop(state_block_id(view, NAME_BLOCK), None)
            await ack(response_action="update",
                      view=redraw_create_form(rt, view, list(errors.values()), name_error=name_error))
        else:
            await ack(response_action="errors", errors=errors)
        return
    app_user = chosen_for(view)
    if app_user is not None:  # for an application user the person owns (checked again in there)
        await submit_team_create(rt, body, view, ack, client, app_user, name, hours)
        return
    title = "Create a DataOS key"
    view_id, identity = await begin(rt, body, view, ack, client, title, "Creating your key…")
    if identity is None:
        return
    slack_user = identity.slack_user_id
    if not await govern(rt, client, view, view_id, owner=identity, kind="personal", name=name, hours=hours, title=title,
                        redraw=lambda policy, problem: redraw_create_form(rt, view, [problem], policy=policy)):
        return  # refused by the key policy, or asked for approval: the modal says which
    # Same view id and hash = the same submission (a double click): the idempotency claims let one through.
    request_id = f"{view_id}:{view.get('hash') or ''}"
    try:
        result = await rt.keys.create_key(identity, name=name, hours=hours, request_id=request_id)
    except DataOSConflict as exc:
        form = create_modal(rt.policy, name=name, validity_hours=hours,
                            error=explain(exc, doing="creating your key", key_name=name),
                            channel_id=metadata(view).get("channel_id", ""), render=render_id())
        await update_view(client, view_id, keep_what_was_there(view, form))
        return
    except DataOSError as exc:
        await update_view(client, view_id, info_modal(
            title, ":x: " + explain(exc, doing="creating your key", key_name=name)))
        return
    except StoreUnavailable as exc:
        await update_view(client, view_id, info_modal(title, f":x: {exc}"))
        return
    if isinstance(result, Duplicate):
        previous = result.previous
        if previous.state == "done" and previous.key_name and previous.key_expiration:
            await update_view(client, view_id, created_modal(
                previous.key_name, previous.key_expiration, rt.clock(), delivered=None))
        return  # still pending: the first submission will show its result in this same modal
    await _deliver_and_confirm(rt, client, slack_user, view_id, result)


async def _deliver_and_confirm(rt: Runtime, client: AsyncWebClient, slack_user: str, view_id: str,
                               token: Token) -> None:
    delivered = await deliver_secret(client, slack_user, token, rt.clock())
    await update_view(client, view_id, created_modal(token.name, token.expiration, rt.clock(),
                                                     delivered=delivered))
    await publish_home(rt, slack_user)


async def submit_revoke(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                        client: AsyncWebClient) -> None:
    """The revoke confirm (`/apikey revoke <name>`) or picker: both name one exact key, name and
    expiration, which is re-read from DataOS before it is revoked."""
    meta = metadata(view)
    key: ExactKey | None
    if meta.get("name"):
        key = exact_key(meta.get("name"), meta.get("exp"))
    else:
        picked = state_value(view, REVOKE_PICK_BLOCK, REVOKE_PICK_INPUT).get("selected_option")
        value = str(picked.get("value") or "") if isinstance(picked, dict) else ""
        if not value:
            await ack(response_action="errors", errors={REVOKE_PICK_BLOCK: "Choose the key to revoke."})
            return
        key = parse_option(value)
    title = "Revoke a key"
    if key is None:
        await ack(response_action="update", view=info_modal(
            title, "That form could not be read; nothing was revoked. Run `/apikey revoke` again."))
        return
    team = None
    if meta.get("for"):  # `/apikey revoke --for <app-user>`: its owners only (no DataOS user of their own needed)
        await ack(response_action="update", view=working_modal(title, f"Revoking *{shown(key.name)}*…"))
        view_id = str(view.get("id") or "")
        acting = await act_as(rt, user_id(body), meta["for"], "revoke")
        if isinstance(acting, str):
            await update_view(client, view_id, info_modal(title, f":no_entry: {acting}"))
            return
        identity, team = acting
    else:
        view_id, mapped = await begin(rt, body, view, ack, client, title, f"Revoking *{shown(key.name)}*…")
        if mapped is None:
            return
        identity = mapped
    try:
        # Looked up under the caller's own DataOS user: a tampered name can only miss, never reach another user.
        done = await rt.keys.revoke_exact(identity.dataos_user_id, key.name, key.expiration,
                                          actor=identity.slack_user_id, detail="/apikey revoke")
    except DataOSError as exc:
        await update_view(client, view_id, info_modal(
            title, ":x: " + explain(exc, doing="revoking your key", key_name=key.name)))
        return
    text = {
        "revoked": f":wastebasket: Key *{shown(done.name)}* revoked. Anything still using it is now refused by DataOS.",
        "changed": f":warning: {replaced_text(done.name, 'this window opened')} Run `/apikey revoke "
                   f"{shown(done.name, 80)}` again to revoke the key that has that name now.",
        "gone": ":x: " + explain(DataOSNotFound(), doing="revoking your key", key_name=done.name),
    }[done.outcome]
    if team is not None and done.outcome == "revoked":
        await tell_channel(rt, team, revoked_line(identity.slack_user_id, done.name, team.app_user_id))
    await update_view(client, view_id, info_modal(title, text))
    await publish_home(rt, identity.slack_user_id)


async def submit_link(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                      client: AsyncWebClient) -> None:
    raw = state_value(view, LINK_BLOCK, LINK_INPUT).get("value")
    pasted = raw.strip() if isinstance(raw, str) else ""
    if not pasted or len(pasted) < 16 or any(c.isspace() for c in pasted):
        await ack(response_action="errors",
                  errors={LINK_BLOCK: "That does not look like a DataOS API key; paste the whole key."})
        return
    title = "Link your DataOS user"
    await ack(response_action="update", view=working_modal(title, "Checking the key with DataOS…"))
    view_id = str(view.get("id") or "")
    try:
        result = await rt.keys.link(user_id(body), SecretStr(pasted))
    except LinkRefused as exc:
        await update_view(client, view_id, info_modal(title, f":x: {exc}"))
        return
    except DataOSError as exc:
        await update_view(client, view_id, info_modal(
            title, ":x: " + explain(exc, doing="checking the key", read=True)))
        return
    proof = result.link.proof if result.link is not None else None
    lasts = (f" The link lasts as long as the key you pasted (*{shown(proof.key_name)}*, expires "
             f"{slack_date(proof.expiration)}): when it is revoked or expires, link again with a current "
             "key." if proof is not None else "")
    await update_view(client, view_id, info_modal(
        title, f":link: You are now linked to DataOS user `{shown(result.dataos_user_id)}`. "
               f"`/apikey list` shows your keys. The key you pasted was not stored.{lasts}"))
    await tell_others(rt, result)
    await publish_home(rt, user_id(body))


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.view(CREATE_VIEW)
    @tracked(rt, "view", "create")
    async def on_create(body: dict[str, Any], view: dict[str, Any], ack: AsyncAck, client: AsyncWebClient) -> None:
        await submit_create(rt, body, view, ack, client)

    @app.view(REVOKE_VIEW)
    @tracked(rt, "view", "revoke")
    async def on_revoke(body: dict[str, Any], view: dict[str, Any], ack: AsyncAck, client: AsyncWebClient) -> None:
        await submit_revoke(rt, body, view, ack, client)

    @app.view(LINK_VIEW)
    @tracked(rt, "view", "link")
    async def on_link(body: dict[str, Any], view: dict[str, Any], ack: AsyncAck, client: AsyncWebClient) -> None:
        await submit_link(rt, body, view, ack, client)
