"""The warning under a create form's name follows what is typed.

A form drawn with a name warning (`/apikey create my-key`, or a submission whose name was refused) marks
its name input `dispatch_action` (`on_character_entered`), so Slack sends a `block_actions` as the
person edits the name. The warning is redrawn only when what it should say changes: gone once the
name is fine, another sentence for another mistake. Every other block is sent back as Slack sent it,
with the same ids, so Slack keeps what was typed in each input, and the private metadata goes back as
it came.

Each update names the hash of the view it replaces, so it can never draw the form over what a
submission put there meanwhile ("Creating your key…"). Fast typing can send two changes from one
hash: the second then replaces the view this listener drew itself, whose hash it remembers.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.identity import slack_error
from bot.slack import tracked
from bot.slack.blocks.forms import name_warning_of, name_warning_text, with_name_warning
from bot.slack.blocks.ids import CREATE_VIEW, NAME_INPUT
from bot.slack.forms import name_problem

log = logging.getLogger(__name__)
#: What a view update may carry besides its blocks (Slack's own fields, such as id, hash and state, not).
VIEW_FIELDS = ("type", "callback_id", "title", "submit", "close", "private_metadata", "clear_on_close",
               "notify_on_close", "external_id", "submit_disabled")
#: Views whose last drawing by this listener is remembered (a person types in one form at a time).
REMEMBERED = 512


class Drawn:
    """The hash and warning of each view this listener updated last, the newest REMEMBERED of them."""

    def __init__(self) -> None:
        self._views: OrderedDict[str, tuple[str, str | None]] = OrderedDict()

    def get(self, view_id: str) -> tuple[str, str | None] | None:
        return self._views.get(view_id)

    def put(self, view_id: str, view_hash: str, warning: str | None) -> None:
        self._views[view_id] = (view_hash, warning)
        self._views.move_to_end(view_id)
        while len(self._views) > REMEMBERED:
            self._views.popitem(last=False)


async def follow_name(client: AsyncWebClient, body: dict[str, Any], drawn: Drawn) -> None:
    view = body.get("view")
    actions = body.get("actions") or []
    if not isinstance(view, dict) or view.get("callback_id") != CREATE_VIEW or not actions:
        return  # a name typed anywhere else is read when its form is submitted
    view_id, view_hash = str(view.get("id") or ""), str(view.get("hash") or "")
    blocks = view.get("blocks")
    if not view_id or not view_hash or not isinstance(blocks, list):
        return  # without its hash, an update could land on whatever the view shows by then
    problem = name_problem(actions[0].get("value"))
    wanted = name_warning_text(problem) if problem is not None else None
    last = drawn.get(view_id)
    if name_warning_of(blocks) == wanted and (last is None or last[1] == wanted):
        return  # it already says that
    update = {k: view[k] for k in VIEW_FIELDS if k in view} | {"blocks": with_name_warning(blocks, problem)}
    for replaced in dict.fromkeys([view_hash, *([last[0]] if last else [])]):
        try:
            answer = await client.views_update(view_id=view_id, hash=replaced, view=update)
        except SlackApiError as exc:
            if slack_error(exc) == "hash_conflict":
                continue  # not the view it was computed from; the view this listener drew last, maybe
            log.warning("could not redraw the name warning of %s: %s", view_id, slack_error(exc))
            return
        drawn.put(view_id, str((answer.get("view") or {}).get("hash") or ""), wanted)
        return


def register(app: AsyncApp, rt: Runtime) -> None:
    drawn = Drawn()

    @app.action(NAME_INPUT)
    @tracked(rt, "action", "name_typed")
    async def name_typed(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await follow_name(client, body, drawn)
