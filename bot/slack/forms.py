"""Reading what a person submitted in a create (or renew) form, and the first step of every submission.

Shared by the personal and the team listeners (`bot.slack.views`, `bot.slack.reminder_buttons`,
`bot.slack.teams`), which is why it sits below all of them.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Runtime
from bot.domain.durations import InvalidDuration, humanize_hours
from bot.domain.keys import InvalidKeyName, validate_key_name
from bot.identity import Denied, Identity
from bot.slack.blocks.common import info_modal, render_id, working_modal
from bot.slack.blocks.forms import create_modal
from bot.slack.blocks.ids import (
    BANNER_BLOCK,
    CUSTOM_BLOCK,
    CUSTOM_INPUT,
    CUSTOM_VALUE,
    NAME_BLOCK,
    NAME_INPUT,
    NAME_WARNING_BLOCK,
    VALIDITY_BLOCK,
    VALIDITY_INPUT,
)
from bot.slack.blocks.teams import FOR_BLOCK, FOR_INPUT
from bot.slack.common import metadata, state_block_id, state_value, update_view, user_id
from bot.text import shown

#: What an input block carries when it is sent to Slack (Slack's copy in a submission may hold more).
INPUT_KEYS = ("type", "block_id", "label", "element", "hint", "optional", "dispatch_action")


def read_create_form(rt: Runtime, view: dict[str, Any]) -> tuple[str | None, int | None, dict[str, str]]:
    """(name, hours, errors by block_id) from a create form's state. Pure apart from the policy."""
    errors: dict[str, str] = {}
    name: str | None = None
    # Anything not shaped as Slack sends it is refused, not guessed at: a form is not a place for surprises.
    raw_name = state_value(view, NAME_BLOCK, NAME_INPUT).get("value")
    problem = name_problem(raw_name)
    if problem is None:
        name = validate_key_name(raw_name if isinstance(raw_name, str) else None)
    else:
        errors[NAME_BLOCK] = problem
    selected = state_value(view, VALIDITY_BLOCK, VALIDITY_INPUT).get("selected_option") or {}
    choice = str(selected.get("value") or "") if isinstance(selected, dict) else ""
    raw_custom = state_value(view, CUSTOM_BLOCK, CUSTOM_INPUT).get("value")
    custom = raw_custom.strip() if isinstance(raw_custom, str) else ""
    if raw_custom is not None and not isinstance(raw_custom, str):
        errors[CUSTOM_BLOCK] = "That validity could not be read; type it again."
    hours: int | None = None
    # A validity typed while "Valid for" still shows what the form was drawn with wins: typing it was the
    # person's last word. Once they picked another preset too, the two disagree and the form asks.
    if choice == CUSTOM_VALUE or not choice or (custom and choice == drawn_choice(view)):
        if not custom:
            target = CUSTOM_BLOCK if choice else VALIDITY_BLOCK
            errors[target] = "Type a validity such as 36h, 45d or 2w, or choose one of the presets."
        else:
            try:
                hours = rt.policy.parse(custom)
            except InvalidDuration as exc:
                errors[CUSTOM_BLOCK] = str(exc)
    else:
        digits = choice[:-1]
        preset = int(digits) if choice.endswith("h") and digits.isascii() and digits.isdigit() else None
        if preset is None or preset not in rt.policy.presets:
            errors[VALIDITY_BLOCK] = "That validity is not offered any more; choose another."
        elif custom and _hours_or_none(rt, custom) != preset:
            errors[CUSTOM_BLOCK] = (f"“Valid for” says {humanize_hours(preset)}, and this says {custom}: choose "
                                    f"“Custom…” above to use {custom}, or clear this field to use "
                                    f"{humanize_hours(preset)}.")
        else:
            hours = preset
    return name, hours, {state_block_id(view, block): text for block, text in errors.items()}


def _hours_or_none(rt: Runtime, text: str) -> int | None:
    try:
        return rt.policy.parse(text)
    except InvalidDuration:
        return None


def drawn_choice(view: dict[str, Any]) -> str:
    """The "Valid for" option the form was drawn with: what Slack shows until the person picks another."""
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and str(block.get("block_id") or "").split("~")[0] == VALIDITY_BLOCK:
            element = block.get("element")
            initial = element.get("initial_option") if isinstance(element, dict) else None
            return str(initial.get("value") or "") if isinstance(initial, dict) else ""
    return ""


def name_problem(raw: object) -> str | None:
    """What is wrong with a typed key name, as a sentence; None when nothing is (empty is fine)."""
    try:
        if raw is not None and not isinstance(raw, str):
            raise InvalidKeyName("That name could not be read; type it again.")
        validate_key_name(raw)
    except InvalidKeyName as exc:
        return str(exc)
    return None


def has_banner(view: dict[str, Any]) -> bool:
    """Whether the form shows a problem about what it was drawn with (the banner, or the name warning)."""
    return any(isinstance(b, dict) and str(b.get("block_id") or "").split("~")[0] in (BANNER_BLOCK,
                                                                                       NAME_WARNING_BLOCK)
               for b in view.get("blocks") or [])


def redraw_create_form(rt: Runtime, view: dict[str, Any], problems: list[str],
                       name_error: str | None = None) -> dict[str, Any]:
    """The create form as submitted, with `problems` (about these very values) as its banner, and what is
    wrong with the name under it."""
    raw_name = state_value(view, NAME_BLOCK, NAME_INPUT).get("value")
    selected = state_value(view, VALIDITY_BLOCK, VALIDITY_INPUT).get("selected_option") or {}
    choice = str(selected.get("value") or "") if isinstance(selected, dict) else ""
    raw_custom = state_value(view, CUSTOM_BLOCK, CUSTOM_INPUT).get("value")
    digits = choice[:-1]
    preset = int(digits) if choice.endswith("h") and digits.isascii() and digits.isdigit() else None
    error = " ".join(shown(p, 300) for p in problems) or (None if name_error else "Choose a validity.")
    return keep_what_was_there(view, create_modal(
        rt.policy, name=raw_name if isinstance(raw_name, str) else None,
        validity_hours=preset if preset in rt.policy.presets else None,
        validity_text=raw_custom.strip() if isinstance(raw_custom, str) and choice == CUSTOM_VALUE else None,
        error=error, channel_id=metadata(view).get("channel_id", ""), render=render_id(), name_error=name_error))


def keep_what_was_there(submitted: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """`form`, a create form drawn again (to show an error), with everything the submitted one had beyond
    its name and validity: its "For" select, still set to what was chosen, and all its private metadata
    (a leaked key's name and expiry, to revoke once the new key exists). The next submit does what this
    one would have done."""
    blocks = [b for b in form.get("blocks") or [] if str(b.get("block_id") or "") != FOR_BLOCK]
    chosen = state_value(submitted, FOR_BLOCK, FOR_INPUT).get("selected_option")
    for block in submitted.get("blocks") or []:
        if isinstance(block, dict) and block.get("block_id") == FOR_BLOCK and isinstance(block.get("element"), dict):
            element = dict(block["element"])
            if isinstance(chosen, dict) and chosen.get("value"):
                offered = [o for o in element.get("options") or [] if isinstance(o, dict)]
                element["initial_option"] = next((o for o in offered if o.get("value") == chosen["value"]),
                                                 {"text": chosen.get("text"), "value": chosen["value"]})
            blocks.insert(0, {k: v for k, v in dict(block, element=element).items() if k in INPUT_KEYS})
    data = {**metadata(submitted), **metadata(form)}
    return dict(form, blocks=blocks, private_metadata=json.dumps(data, separators=(",", ":")))


async def begin(rt: Runtime, body: dict[str, Any], view: dict[str, Any], ack: AsyncAck, client: AsyncWebClient,
                title: str, working: str) -> tuple[str, Identity | None]:
    """Switch a valid submission to its "working" view (the ack), then find out who submitted it.

    Returns the view id and the identity; None (after saying why in the modal) if they are not mapped.
    """
    await ack(response_action="update", view=working_modal(title, working))
    view_id = str(view.get("id") or "")
    identity = await rt.keys.identify(user_id(body))
    if isinstance(identity, Denied):
        await update_view(client, view_id, info_modal(title, f":no_entry: {identity.message}"))
        return view_id, None
    return view_id, identity
