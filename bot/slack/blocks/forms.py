"""The create and renew forms (name and validity inputs shared by both), and what a create shows after."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ButtonElement,
    ContextBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.domain.durations import humanize_hours
from bot.domain.keys import NAME_MAX_LENGTH, key_ref, relative
from bot.domain.policy import ValidityPolicy
from bot.slack.blocks.common import info_modal, md, meta_json, slack_date
from bot.slack.blocks.ids import (
    BANNER_BLOCK,
    CREATE_VIEW,
    CUSTOM_BLOCK,
    CUSTOM_INPUT,
    CUSTOM_VALUE,
    NAME_BLOCK,
    NAME_INPUT,
    NAME_WARNING_BLOCK,
    OLD_BLOCK,
    OLD_INPUT,
    RENEW_VIEW,
    SHOW_HERE_ACTION,
    VALIDITY_BLOCK,
    VALIDITY_INPUT,
)
from bot.text import shown


def _preset_option(hours: int) -> Option:
    return Option(text=humanize_hours(hours), value=f"{hours}h")


def name_warning_text(problem: str) -> str:
    return f":warning: {shown(problem, 300)}"


def _name_warning(problem: str, suffix: str) -> ContextBlock:
    """What is wrong with the name, right under its input."""
    return ContextBlock(block_id=NAME_WARNING_BLOCK + suffix,
                        elements=[MarkdownTextObject(text=name_warning_text(problem))])


def with_name_warning(blocks: list[Any], problem: str | None) -> list[Any]:
    """A form's blocks, every one kept as it is, with the name warning saying `problem` (or gone). The
    input blocks keep their ids, so Slack keeps what was typed in them."""
    kept = [b for b in blocks if not _is(b, NAME_WARNING_BLOCK)]
    if problem is None:
        return kept
    at = next((i for i, b in enumerate(kept) if _is(b, NAME_BLOCK)), None)
    if at is None:
        return kept
    name_id = str(kept[at].get("block_id") or "")
    suffix = name_id[len(NAME_BLOCK):]  # the rendering's own, so ids stay unique within the view
    return [*kept[:at + 1], _name_warning(problem, suffix).to_dict(), *kept[at + 1:]]


def name_warning_of(blocks: list[Any]) -> str | None:
    """The text of the name warning a form shows, None without one."""
    for block in blocks:
        if _is(block, NAME_WARNING_BLOCK):
            elements = block.get("elements") or []
            first = elements[0] if elements and isinstance(elements[0], dict) else {}
            return str(first.get("text") or "")
    return None


def _is(block: Any, base: str) -> bool:
    return isinstance(block, dict) and str(block.get("block_id") or "").split("~")[0] == base


def _key_inputs(policy: ValidityPolicy, *, name: str | None, validity_hours: int | None,
                validity_text: str | None, error: str | None, render: str = "",
                name_error: str | None = None) -> list[Block]:
    """Name and validity inputs, shared by the create and renew forms. `render` suffixes the block ids
    of a form drawn again, so Slack shows the new initial values instead of keeping the old input.
    `name_error` is shown under the name, and the form then tells the bot as the name is changed
    (`bot.slack.name_warning` redraws the warning)."""
    suffix = f"~{render}" if render else ""
    options = [_preset_option(h) for h in policy.presets]
    custom = Option(text="Custom…", value=CUSTOM_VALUE)
    options.append(custom)
    chosen = validity_hours if validity_hours is not None else (None if validity_text else policy.default)
    initial: Option | None = next((o for o in options if o.value == f"{chosen}h"), None)
    if validity_text and initial is None:
        initial = custom
    blocks: list[Block] = []
    if error:
        blocks.append(SectionBlock(block_id=BANNER_BLOCK + suffix, text=md(f":warning: {error}")))
    follow = {"trigger_actions_on": ["on_character_entered"]} if name_error else None
    blocks += [
        InputBlock(
            block_id=NAME_BLOCK + suffix, optional=True, label="Name", dispatch_action=bool(name_error),
            element=PlainTextInputElement(action_id=NAME_INPUT, initial_value=(name or "")[:NAME_MAX_LENGTH] or None,
                                          max_length=NAME_MAX_LENGTH, dispatch_action_config=follow,
                                          placeholder="e.g. ci_loader"),
            hint="Letters, digits and underscores. Leave empty and a name is made up for you.",
        ),
    ]
    if name_error:
        blocks.append(_name_warning(name_error, suffix))
    blocks += [
        InputBlock(
            block_id=VALIDITY_BLOCK + suffix, label="Valid for",
            element=StaticSelectElement(action_id=VALIDITY_INPUT, options=options, initial_option=initial),
            hint=f"At most {humanize_hours(policy.maximum)}.",
        ),
        InputBlock(
            block_id=CUSTOM_BLOCK + suffix, optional=True, label="Custom validity",
            element=PlainTextInputElement(action_id=CUSTOM_INPUT, max_length=16, placeholder="e.g. 36h, 45d or 2w",
                                          initial_value=validity_text[:16] if validity_text and initial is custom
                                          else None),
            hint="Hours (h), days (d) or weeks (w). Typed here, it is used instead of “Valid for”.",
        ),
    ]
    return blocks


@functools.lru_cache(maxsize=256)  # the same few forms are built over and over; callers never mutate them
def create_modal(policy: ValidityPolicy, *, name: str | None = None, validity_hours: int | None = None,
                 validity_text: str | None = None, error: str | None = None, channel_id: str = "",
                 render: str = "", name_error: str | None = None) -> dict[str, Any]:
    """The create form. `validity_text` prefills the custom field when it is not a preset; `error` is a
    banner above the inputs, `name_error` a warning under the name that follows what is typed."""
    blocks = _key_inputs(policy, name=name, validity_hours=validity_hours, validity_text=validity_text, error=error,
                         render=render, name_error=name_error)
    return View(type="modal", callback_id=CREATE_VIEW, title="Create a DataOS key", submit="Create",
                close="Cancel", blocks=blocks, private_metadata=meta_json(channel_id=channel_id)).to_dict()


def validity_prefill(policy: ValidityPolicy, hours: int | None) -> dict[str, Any]:
    """Form arguments that select `hours` (a preset, or the custom field), capped by policy."""
    if not hours:
        return {"validity_hours": None, "validity_text": None}
    hours = min(hours, policy.maximum)
    if hours in policy.presets:
        return {"validity_hours": hours, "validity_text": None}
    text = f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
    return {"validity_hours": None, "validity_text": text}


def renew_modal(policy: ValidityPolicy, *, old_name: str, old_expiration: datetime, now: datetime,
                suggested_name: str, lifetime_hours: int | None, grace_hours: int, meta: dict[str, str],
                error: str | None = None, revoke_old: str | None = None) -> dict[str, Any]:
    intro = SectionBlock(text=md(
        f"Renew *{shown(old_name)}* (expires {slack_date(old_expiration)}, {relative(old_expiration, now)}): "
        "a new key is made and sent to you privately."))
    inputs = _key_inputs(policy, name=suggested_name, error=error, **validity_prefill(policy, lifetime_hours))
    keep = Option(text="Leave it until it expires", value="keep")
    now_option = Option(text="Revoke it now", value="now")
    choices = [now_option, keep]
    # "Revoke it in 1 day" for a key that expires in 42 minutes would never happen: not offered.
    later = (Option(text=f"Revoke it in {humanize_hours(grace_hours)}", value=f"in:{grace_hours}")
             if old_expiration - now > timedelta(hours=grace_hours) else None)
    if later is not None:
        choices.insert(1, later)
    initial = now_option if revoke_old == "now" else later or keep
    old = InputBlock(block_id=OLD_BLOCK, label="And the old key?",
                     element=StaticSelectElement(action_id=OLD_INPUT, options=choices, initial_option=initial),
                     hint="Revoking later gives you time to switch everything to the new key.")
    return View(type="modal", callback_id=RENEW_VIEW, title="Renew a DataOS key", submit="Renew", close="Cancel",
                blocks=[intro, *inputs, old], private_metadata=meta_json(**meta)).to_dict()


def created_modal(name: str, expiration: datetime, now: datetime, *, delivered: bool | None,
                  note: str | None = None) -> dict[str, Any]:
    """The result of a create. `delivered` None: a repeated submit of a form that already made its key."""
    if delivered is None:
        where = "This form was submitted twice; only one key was made."
    elif delivered:
        where = "I sent it to you privately in your direct messages with me."
    else:
        where = "I could not deliver it to your direct messages with me: use the button below to see it here."
    text = (f":white_check_mark: Key *{shown(name)}* created, valid until "
            f"{slack_date(expiration)} ({relative(expiration, now)}).\n{where}")
    if note:
        text += f"\n{note}"
    button = ButtonElement(text="Show the key here", action_id=SHOW_HERE_ACTION, value=key_ref(name),
                           style="primary" if delivered is False else None)
    # Only when a message was sent can it have failed to arrive; otherwise the text above said it all.
    context = ("Did the message not arrive? “Show the key here” shows the key in this window, to you only."
               if delivered is not False else None)
    return info_modal("Key created", text, buttons=[button], context=context)
