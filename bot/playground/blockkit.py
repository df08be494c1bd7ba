"""Block Kit as the playground's Slack handles it: block ids Slack would assign, the element a click
names, and the `actions[0]` and `state.values` entries Slack builds from what the app drew."""

from __future__ import annotations

import json
import secrets
import string
from typing import Any

_ID_CHARS = string.ascii_letters + string.digits


def with_block_ids(blocks: Any) -> list[Any]:
    """`blocks` with a `block_id` on every block, as Slack stores them: an app's own id is kept, and a
    block without one gets a short random id of Slack's making, distinct within the message or view."""
    if not isinstance(blocks, list):
        return []
    taken = {str(b.get("block_id")) for b in blocks if isinstance(b, dict) and b.get("block_id")}
    out: list[Any] = []
    for block in blocks:
        if isinstance(block, dict) and not block.get("block_id"):
            made = _new_id(taken)
            taken.add(made)
            block = dict(block, block_id=made)
        out.append(block)
    return out


def _new_id(taken: set[str]) -> str:
    while True:
        made = "".join(secrets.choice(_ID_CHARS) for _ in range(5))
        if made not in taken:
            return made


def elements_of(block: dict[str, Any]) -> list[Any]:
    """A block's interactive places, in the order the page numbers them (`data-el`)."""
    kind = block.get("type")
    if kind == "section":
        return [block.get("accessory")]
    if kind == "input":
        return [block.get("element")]
    if kind in ("actions", "context"):
        return list(block.get("elements") or [])
    return []


def find_element(blocks: Any, handle: str, block_id: str, action_id: str) -> dict[str, Any] | None:
    """The element the person clicked: the one at `handle` ("<block>.<element>", numbered as drawn),
    if it is still the element drawn there (same block id and action id); None when it changed since."""
    try:
        block_at, element_at = (int(part) for part in handle.split("."))
    except ValueError:
        return None
    if not isinstance(blocks, list) or not 0 <= block_at < len(blocks) or element_at < 0:
        return None
    block = blocks[block_at]
    if not isinstance(block, dict) or str(block.get("block_id") or "") != block_id:
        return None
    elements = elements_of(block)
    element = elements[element_at] if element_at < len(elements) else None
    if not isinstance(element, dict) or element.get("action_id") != action_id:
        return None
    return element


#: Inputs whose changes Slack sends when their block says `dispatch_action` (plain-text-like inputs).
TEXT_INPUTS = ("plain_text_input", "number_input", "email_text_input", "url_text_input")


def dispatch_triggers(block: Any) -> tuple[str, ...]:
    """When Slack sends an input block's changes as `block_actions`: none unless the block says
    `dispatch_action`; then its element's `dispatch_action_config`, by default on Enter."""
    if not isinstance(block, dict) or block.get("type") != "input" or block.get("dispatch_action") is not True:
        return ()
    element = block.get("element")
    if not isinstance(element, dict) or element.get("type") not in TEXT_INPUTS:
        return ()
    config = element.get("dispatch_action_config")
    triggers = config.get("trigger_actions_on") if isinstance(config, dict) else None
    if not isinstance(triggers, list):
        return ("on_enter_pressed",)
    return tuple(t for t in triggers if t in ("on_enter_pressed", "on_character_entered"))


def dispatches(blocks: Any, handle: str) -> bool:
    """Whether the input at `handle` (checked by `find_element`) sends its changes."""
    block_at = int(handle.split(".")[0])
    return bool(dispatch_triggers(blocks[block_at]))


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        found += [o for o in (group.get("options") or []) if isinstance(o, dict)]
    return found


def _option(element: dict[str, Any], value: Any) -> dict[str, Any] | None:
    return next((o for o in _options(element) if o.get("value") == value), None)


def action_of(element: dict[str, Any], block_id: str, option: str | None) -> dict[str, Any] | None:
    """The `actions[0]` Slack sends for a click on `element` (for a text input that dispatches, `option` is
    what it holds now)."""
    kind = str(element.get("type") or "")
    action: dict[str, Any] = {"type": kind, "action_id": element.get("action_id"), "block_id": block_id}
    if kind in TEXT_INPUTS:
        action["value"] = option
        return action
    if kind == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        return action
    chosen = _option(element, option)
    if chosen is None:
        return None
    action["selected_option"] = chosen
    return action


def input_value(element: dict[str, Any], raw: Any) -> dict[str, Any]:
    """One entry of `state.values`, typed as Slack types it; options come from the element, by value."""
    kind = str(element.get("type") or "")
    if kind in ("static_select", "radio_buttons", "external_select"):
        return {"type": kind, "selected_option": _option(element, raw)}
    if kind == "checkboxes":
        chosen = [o for o in _options(element) if isinstance(raw, list) and o.get("value") in raw]
        return {"type": kind, "selected_options": chosen}
    if kind == "datepicker":
        return {"type": kind, "selected_date": raw if isinstance(raw, str) and raw else None}
    return {"type": kind, "value": raw if isinstance(raw, str) and raw != "" else None}


def view_state(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`view.state.values` as Slack builds it from what was typed or chosen in the page."""
    state: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = block.get("element") if block.get("type") == "input" else None
        if not isinstance(element, dict):
            continue
        block_id, action_id = str(block.get("block_id") or ""), str(element.get("action_id") or "")
        raw = (values.get(block_id) or {}).get(action_id)
        state.setdefault(block_id, {})[action_id] = input_value(element, raw)
    return state


def masked_headers(headers: dict[str, str], secret: tuple[str, ...]) -> dict[str, str]:
    """The headers the inspector shows: the content type, and the credentials as dots."""
    return {name: "••••" if name.lower() in secret else value for name, value in headers.items()
            if name.lower() in (*secret, "content-type")}


def decoded(text: str, kind: str) -> Any:
    if "json" in kind:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def pretty(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)
