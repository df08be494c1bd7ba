"""Team keys: owners act on their application users' keys where they act on their own.

Who may see and act is decided by the one owner check (`bot.slack.owners`: `act_as` at every
action, `owned_teams` for every list, Home section and "For" select): the application user a button,
form or command names is only a hint, checked against its team before anything is read or changed. A
new key goes to the owner who asked, privately (ephemeral in their DM, or "Show the key here"); the team
channel reads who did what to which key, never the key.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.approvals import Renewal
from bot.dataos import DataOSConflict, DataOSError, DataOSNotFound
from bot.domain.policy import ValidityPolicy
from bot.identity import Denied, Identity
from bot.service import Duplicate, StoreUnavailable, same_second
from bot.slack import blocks, tracked
from bot.slack.approvals.gate import govern, person_form
from bot.slack.blocks.teams import (
    FOR_BLOCK,
    FOR_INPUT,
    MYSELF,
    TEAM_REVEAL_ACTION,
    TEAM_REVOKE_ACTION,
    TEAM_SHOW_HERE_ACTION,
    created_line,
    revealed_line,
    revoked_line,
    team_created_modal,
    with_for,
)
from bot.slack.common import (
    OpenForm,
    action_value,
    clicked_message,
    metadata,
    open_view,
    redraw_form,
    state_value,
    update_view,
    user_id,
)
from bot.slack.errors import explain, explain_slack
from bot.slack.forms import keep_what_was_there
from bot.slack.home import from_home, publish_home
from bot.slack.key_buttons import ExactKey, exact_key, parse_exact, replaced_text
from bot.slack.owners import act_as, owned_teams, refusal
from bot.slack.teams.channel import tell_channel, tell_team
from bot.slack.teams.delivery import deliver_team_secret
from bot.text import shown

log = logging.getLogger(__name__)
REVEAL_TITLE = "Application key"




# ---- create -------------------------------------------------------------------------------------


def for_option(args: list[str]) -> tuple[str | None, list[str]]:
    """`--for <app-user>` out of a command's words: (the application user or None, the other words)."""
    if "--for" not in args:
        return None, args
    i = args.index("--for")
    app = args[i + 1] if i + 1 < len(args) else ""
    return app, args[:i] + args[i + 2:]


async def offer_for(rt: Runtime, client: AsyncWebClient, form: OpenForm, view: dict[str, Any],
                    identity: Identity | Denied, wanted: str | None) -> None:
    """Once the create form is open: add its "For" select when the person owns any team (preselecting
    `--for`), or say why `--for` is refused. Someone without a DataOS user of their own (`Denied`) may still
    own teams: the select then offers only those, and without any the form says why they cannot create."""
    denied = identity.message if isinstance(identity, Denied) else None
    teams = await owned_teams(rt, identity.slack_user_id)
    if teams is None:  # the form still makes a personal key; only the "For" choice is missing
        if wanted is not None or denied is not None:
            text = (f":no_entry: {denied}" if denied is not None else ":x: I could not look up the application "
                    "users you own just now. Nothing was changed; please try again in a minute.")
            await redraw_form(client, form, blocks.info_modal("Create a DataOS key", text))
        return
    if wanted is not None and wanted not in {t.app_user_id for t in teams}:
        acting = await act_as(rt, identity.slack_user_id, wanted, "create") if wanted else None
        sentence = (acting if isinstance(acting, str) else refusal(await rt.teams.team_of(wanted), wanted) if wanted
                    else "`--for` needs an application user.")
        await redraw_form(client, form, blocks.info_modal("Create a DataOS key", f":no_entry: {sentence}"))
        return
    if denied is not None and not teams:
        await redraw_form(client, form, blocks.info_modal("Create a DataOS key", f":no_entry: {denied}"))
        return
    if teams:
        label = None if isinstance(identity, Denied) else f"Me ({identity.dataos_user_id})"
        await redraw_form(client, form, with_for(view, label, teams, wanted))


def chosen_for(view: dict[str, Any]) -> str | None:
    """The application user the create form was submitted for; None for the person themselves."""
    selected = state_value(view, FOR_BLOCK, FOR_INPUT).get("selected_option")
    value = str(selected.get("value") or "") if isinstance(selected, dict) else ""
    return value if value and value != MYSELF else None


async def submit_team_create(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck,
                             client: AsyncWebClient, app_user_id: str, name: str | None, hours: int) -> None:
    title = "Create a DataOS key"
    await ack(response_action="update", view=blocks.working_modal(title, f"Creating a key for {shown(app_user_id)}…"))
    view_id = str(view.get("id") or "")
    slack_user = user_id(body)
    meta = metadata(view)
    old = exact_key(meta.get("rk"), meta.get("re"))
    # "Renew and revoke" of a leaked team key: platform admins may, as they may press its other buttons.
    acting = await act_as(rt, slack_user, app_user_id, "create", admins_may=old is not None)
    if isinstance(acting, str):
        await update_view(client, view_id, blocks.info_modal(title, f":no_entry: {acting}"))
        return
    identity, team = acting
    meta = metadata(view)
    old = exact_key(meta.get("rk"), meta.get("re"))
    renewal = Renewal(old.name, old.expiration, "now") if old is not None else None
    def redraw(policy: ValidityPolicy, problem: str) -> dict[str, Any]:  # the form again, for that app user still
        return keep_what_was_there(view, blocks.create_modal(
            policy, name=name, validity_hours=hours if hours in policy.presets else None, error=problem,
            channel_id=metadata(view).get("channel_id", ""), render=blocks.render_id()))

    if not await govern(rt, client, view, view_id, owner=identity, kind="team", name=name, hours=hours,
                        title=title, renew=renewal, redraw=redraw):
        return  # refused by the key policy, or asked for approval: the modal says which
    request_id = f"{view_id}:{view.get('hash') or ''}"  # a double submit is one key, as for personal keys
    try:
        result = await rt.keys.create_key(identity, name=name, hours=hours, request_id=request_id)
    except DataOSConflict as exc:  # the name is taken: the form again, for that application user still
        await update_view(client, view_id, keep_what_was_there(view, blocks.create_modal(
            rt.policy, name=name, validity_hours=hours, channel_id=metadata(view).get("channel_id", ""),
            error=explain(exc, doing=f"creating a key for {shown(app_user_id)}", key_name=name),
            render=blocks.render_id())))
        return
    except DataOSError as exc:
        await update_view(client, view_id, blocks.info_modal(
            title, ":x: " + explain(exc, doing=f"creating a key for {shown(app_user_id)}", key_name=name)))
        return
    except StoreUnavailable as exc:
        await update_view(client, view_id, blocks.info_modal(title, f":x: {exc}"))
        return
    if isinstance(result, Duplicate):
        previous = result.previous
        if previous.state == "done" and previous.key_name and previous.key_expiration:
            await update_view(client, view_id, team_created_modal(app_user_id, previous.key_name,
                                                                  previous.key_expiration, rt.clock(), delivered=None))
        return
    delivered = await deliver_team_secret(client, slack_user, app_user_id, result, rt)
    where = await tell_team(rt, team, created_line(slack_user, result.name, app_user_id, result.expiration))
    told = None if where == "owners" else where == "channel"  # by DM: the owners read it there themselves
    await update_view(client, view_id, team_created_modal(app_user_id, result.name, result.expiration, rt.clock(),
                                                          delivered=delivered, told=told))
    if old is not None:  # "Renew and revoke" of a leaked key: the old one goes once the new one exists
        await revoke_team_key(rt, slack_user, app_user_id, old, "leak watch: renew and revoke", admins_may=True)


async def renew_team_key(rt: Runtime, body: dict[str, Any], view_id: str, app_user_id: str, name: str,
                         expiration: datetime) -> None:
    """"Renew and revoke" on a leaked application key, in the modal already opened (loading) for it: for its
    owners, the create form for that application user, which revokes exactly the leaked key once the new
    key was made (both re-checked on submit); for anyone else, why not."""
    slack_user = user_id(body)
    channel = clicked_message(body)[0]
    acting = await act_as(rt, slack_user, app_user_id, "renew", admins_may=True)
    if isinstance(acting, str):
        await update_view(rt.slack, view_id, blocks.info_modal("Renew a key", f":no_entry: {acting}"))
        return
    policy = await person_form(rt, slack_user, "team")  # the key policy's validities for this owner
    view = with_for(blocks.create_modal(policy, channel_id=channel), None, [acting[1]], app_user_id,
                    rk=name, re=str(int(expiration.timestamp())))
    await update_view(rt.slack, view_id, view)


# ---- reveal ---------------------------------------------------------------------------------------


async def _reveal(rt: Runtime, client: AsyncWebClient, slack_user: str, view_id: str, value: str) -> None:
    """Show an application key to an owner, in a modal, once its team channel has been told so."""
    parsed = parse_exact(value, "a")
    if parsed is None:
        await update_view(client, view_id, blocks.info_modal(REVEAL_TITLE, blocks.DAMAGED_BUTTON))
        return
    key, fields = parsed
    acting = await act_as(rt, slack_user, fields["a"], "reveal")
    if isinstance(acting, str):
        await update_view(client, view_id, blocks.info_modal(REVEAL_TITLE, f":no_entry: {acting}"))
        return
    identity, team = acting
    try:
        token = await rt.keys.reveal_key(identity, key.name)
    except DataOSError as exc:
        await update_view(client, view_id, blocks.info_modal(REVEAL_TITLE, ":x: " + explain(
            exc, doing=f"fetching a key of {shown(team.app_user_id)}", key_name=key.name, read=True)))
        return
    if not same_second(token.expiration, key.expiration):
        await update_view(client, view_id, blocks.info_modal(REVEAL_TITLE, (
            f":warning: `{shown(token.name)}` was replaced after this button was drawn; nothing is shown. "
            f"`/apikey list {shown(team.app_user_id, 80)}` shows the key that has that name now.")))
        return
    # A shared secret is being seen: the team is told first, and without that nothing is shown.
    if not await tell_channel(rt, team, revealed_line(slack_user, token.name, team.app_user_id)):
        await update_view(client, view_id, blocks.info_modal(REVEAL_TITLE, (
            f":x: I could not tell <#{team.channel_id}> that you are revealing this key, so I did not show it. "
            "Ask a platform admin to check that I am a member of the team channel (`apikey-bot doctor`).")))
        return
    await update_view(client, view_id, blocks.secret_modal(token, rt.clock(), app_user_id=team.app_user_id))


async def on_reveal(rt: Runtime, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
    try:
        view_id = await open_view(client, str(body.get("trigger_id") or ""),
                                  blocks.working_modal(REVEAL_TITLE, "Fetching the key…"))
    except SlackApiError as exc:
        if body.get("response_url"):
            await respond(response_type="ephemeral", replace_original=False, **blocks.text_message(
                ":x: " + explain_slack(exc, doing="opening the key window")).kwargs())
        return
    await _reveal(rt, client, user_id(body), view_id, action_value(body))


async def on_show_here(rt: Runtime, body: dict[str, Any], client: AsyncWebClient) -> None:
    await _reveal(rt, client, user_id(body), str((body.get("view") or {}).get("id") or ""), action_value(body))


# ---- revoke ---------------------------------------------------------------------------------------


async def revoke_team_key(rt: Runtime, slack_user: str, app_user_id: str, key: ExactKey, detail: str, *,
                          admins_may: bool = False) -> str:
    """Revoke exactly that key of an application user for one of its owners (or an admin, where
    `admins_may`); the sentence they read."""
    acting = await act_as(rt, slack_user, app_user_id, "revoke", admins_may=admins_may)
    if isinstance(acting, str):
        return f":no_entry: {acting}"
    _, team = acting
    try:
        done = await rt.keys.revoke_exact(app_user_id, key.name, key.expiration, actor=slack_user, detail=detail)
    except DataOSError as exc:
        return ":x: " + explain(exc, doing=f"revoking a key of {shown(app_user_id)}", key_name=key.name)
    if done.outcome == "revoked":
        where = await tell_team(rt, team, revoked_line(slack_user, done.name, app_user_id))
        channel = {"channel": f"<#{team.channel_id}> was told.",
                   "owners": f"its owners were told by DM (<#{team.channel_id}> is shared with another organisation).",
                   "": f"I could not tell <#{team.channel_id}> (Slack refused my message there); tell the team "
                       "yourself."}[where]
        return f":wastebasket: Key *{shown(done.name)}* of {shown(app_user_id)} revoked; {channel}"
    if done.outcome == "changed":
        return f":warning: {replaced_text(done.name)}"
    return ":x: " + explain(DataOSNotFound(), doing="revoking the key", key_name=done.name)


async def on_revoke(rt: Runtime, body: dict[str, Any], respond: AsyncRespond) -> None:
    parsed = parse_exact(action_value(body), "a")
    text = (blocks.DAMAGED_BUTTON if parsed is None else
            await revoke_team_key(rt, user_id(body), parsed[1]["a"], parsed[0], "team key list"))
    if from_home(body):
        await publish_home(rt, user_id(body), notice=text)
    elif body.get("response_url"):
        await respond(response_type="ephemeral", replace_original=False, **blocks.text_message(text).kwargs())


def with_app(view: dict[str, Any], app_user_id: str) -> dict[str, Any]:
    """A revoke form (`blocks.revoke_modal` or picker) that acts for `app_user_id` (re-checked on submit)."""
    meta = json.loads(view.get("private_metadata") or "{}")
    meta["for"] = app_user_id
    return dict(view, private_metadata=json.dumps(meta, separators=(",", ":")))


async def cmd_revoke_for(rt: Runtime, client: AsyncWebClient, trigger_id: str, slack_user: str, app_user_id: str,
                         name: str | None) -> str | None:
    """`/apikey revoke --for <app-user> [name]`: the confirm (or picker) for that application user's key;
    a sentence if it could not be opened."""
    title = "Revoke a key"
    try:
        view_id = await open_view(client, trigger_id, blocks.working_modal(title, "Looking up the key…"))
    except SlackApiError as exc:
        return ":x: " + explain_slack(exc, doing="opening the revoke dialog")
    acting = await act_as(rt, slack_user, app_user_id, "revoke")
    if isinstance(acting, str):
        await update_view(client, view_id, blocks.info_modal(title, f":no_entry: {acting}"))
        return None
    try:
        if name:
            token = await rt.dataos.get_token(app_user_id, name)
            view = with_app(blocks.revoke_modal(token, rt.clock()), app_user_id)
        else:
            tokens = await rt.dataos.list_tokens(app_user_id)
            view = (with_app(blocks.revoke_picker_modal(tokens), app_user_id) if tokens else
                    blocks.info_modal(title, f"`{shown(app_user_id)}` has no keys to revoke."))
    except DataOSError as exc:
        view = blocks.info_modal(title, ":x: " + explain(exc, doing="looking up the key", key_name=name, read=True))
    await update_view(client, view_id, view)
    return None


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.action(TEAM_REVEAL_ACTION)
    @tracked(rt, "action", "team_reveal")
    async def reveal(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond) -> None:
        await ack()
        await on_reveal(rt, body, client, respond)

    @app.action(TEAM_SHOW_HERE_ACTION)
    @tracked(rt, "action", "team_show_here")
    async def show_here(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await on_show_here(rt, body, client)

    @app.action(TEAM_REVOKE_ACTION)
    @tracked(rt, "action", "team_revoke")
    async def revoke(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        await on_revoke(rt, body, respond)
