"""The options of the create form's "For" select when a person owns more application users than a select
holds (Slack's 100): Slack sends `block_suggestion` as they type, and the bot answers with what matches,
within the 3 seconds and 100 options Slack allows. The list is decided from the Slack user who types,
as every team action is: a guest or someone from another organisation is offered only themselves, and
what they pick is checked again when the form is submitted (`bot.slack.owners.act_as`)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.app import Runtime
from bot.identity import Denied
from bot.slack import tracked
from bot.slack.blocks.teams import FOR_INPUT, SELECT_OPTIONS, for_options
from bot.slack.common import user_id
from bot.slack.owners import owned_teams

log = logging.getLogger(__name__)


async def matching_options(rt: Runtime, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The person ("Me"), then the application users they own whose id holds what they typed."""
    slack_user = user_id(body)
    typed = str(body.get("value") or "").strip().lower()
    identity = await rt.keys.identify(slack_user)
    me = None if isinstance(identity, Denied) else f"Me ({identity.dataos_user_id})"
    # The one owner check (no guest or outsider owns a team); on a failure only "Me" is offered.
    teams = await owned_teams(rt, slack_user) or []
    found = [t for t in sorted(teams, key=lambda t: t.app_user_id) if typed in t.app_user_id.lower()]
    offered = for_options(me if me is not None and typed in me.lower() else None, found)
    return [o.to_dict() for o in offered[:SELECT_OPTIONS]]


def register(app: AsyncApp, rt: Runtime) -> None:
    @app.options(FOR_INPUT)
    @tracked(rt, "options", "for")
    async def on_for_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            options = await matching_options(rt, body)
        except Exception as exc:  # Slack shows "no results": never an error in the middle of typing
            log.warning("the options of the For select failed: %s", type(exc).__name__)
            options = []
        await ack(options=options)
