"""Block Kit to HTML, for the playground's page: what Slack's client would draw (mrkdwn is `mrkdwn.py`).

Every piece of text is escaped here, on the server, before the page sees it: the page only inserts
what this module produced, so text from the bot's JSON (a key name, an exception text, a name from
DataOS) can never become markup or script. Tags come from this module's own fixed strings only, and
attribute values are escaped with quotes. Links keep http(s) and mailto targets only.

Interactive elements carry `data-*` attributes (kind, action id, block id, and `data-el`, the element's
place: "<block>.<element>") that the page sends back when one is clicked; the server finds the element
there and builds the payload Slack would send. A confirm dialog travels as a `<template>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from bot.playground.blockkit import dispatch_triggers
from bot.playground.mrkdwn import SAFE_URL, Viewer, day_label, esc, format_date, mrkdwn, plain

__all__ = ["SUPPORTED", "Viewer", "blocks_html", "day_divider", "day_html", "message_html", "mrkdwn", "used_types",
           "view_html"]

# ---- Block Kit -----------------------------------------------------------------------------------


def text_html(obj: Any, viewer: Viewer) -> str:
    """A composition text object (plain_text or mrkdwn), or a bare string as plain text."""
    if isinstance(obj, str):
        return plain(obj)
    if not isinstance(obj, dict):
        return ""
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text") or ""), viewer)
    return plain(obj.get("text") or "")


def _raw_text(obj: Any) -> str:
    if isinstance(obj, dict):
        return str(obj.get("text") or "")
    return str(obj or "")


def _data(kind: str, element: dict[str, Any], block_id: str, handle: str) -> str:
    attrs = {"data-kind": kind, "data-action-id": element.get("action_id") or "", "data-block-id": block_id,
             "data-el": handle}
    return " ".join(f'{name}="{esc(value)}"' for name, value in attrs.items())


def _confirm(element: dict[str, Any], viewer: Viewer) -> str:
    confirm = element.get("confirm")
    if not isinstance(confirm, dict):
        return ""
    style = esc(confirm.get("style") or "")
    return (f'<template class="bk-confirm"><div class="bk-confirm-dialog" data-style="{style}">'
            f'<h3>{text_html(confirm.get("title"), viewer)}</h3>'
            f'<div class="bk-confirm-text">{text_html(confirm.get("text"), viewer)}</div>'
            f'<div class="bk-confirm-buttons"><button class="bk-button bk-deny">'
            f'{text_html(confirm.get("deny") or "Cancel", viewer)}</button>'
            f'<button class="bk-button bk-ok {style}">{text_html(confirm.get("confirm") or "Yes", viewer)}</button>'
            f"</div></div></template>")


def _option_attrs(option: dict[str, Any]) -> str:
    return f'value="{esc(option.get("value") or "")}" data-text="{esc(_raw_text(option.get("text")))}"'


def _select(element: dict[str, Any], block_id: str, handle: str, viewer: Viewer, kind: str = "static_select") -> str:
    initial = (element.get("initial_option") or {}).get("value")
    placeholder = _raw_text(element.get("placeholder")) or "Select an item"

    def options(items: list[Any]) -> str:
        out = []
        for option in items:
            if isinstance(option, dict):
                chosen = " selected" if initial is not None and option.get("value") == initial else ""
                out.append(f"<option {_option_attrs(option)}{chosen}>{esc(_raw_text(option.get('text')))}</option>")
        return "".join(out)

    listed = [o for o in element.get("options") or [] if isinstance(o, dict)]
    typeahead = ""
    if element.get("type") == "external_select":  # the options are what the app answered to the typing
        first = element.get("initial_option")
        if isinstance(first, dict) and all(o.get("value") != first.get("value") for o in listed):
            listed.insert(0, first)
        attrs = " ".join(f'{name}="{esc(value)}"' for name, value in {
            "data-typeahead": "1", "data-action-id": element.get("action_id") or "", "data-block-id": block_id,
            "data-el": f"{handle}.q", "value": element.get("_typed") or ""}.items())
        typeahead = f'<input class="bk-input bk-typeahead" type="search" placeholder="Type to search" {attrs}>'
    body = f'<option value="" disabled{"" if initial is not None else " selected"}>{esc(placeholder)}</option>'
    body += options(listed)
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            body += f'<optgroup label="{esc(_raw_text(group.get("label")))}">{options(group.get("options") or [])}' \
                    "</optgroup>"
    return (f'<span class="bk-select-wrap">{typeahead}<select class="bk-select" '
            f'{_data(kind, element, block_id, handle)}>{body}</select>{_confirm(element, viewer)}</span>')


def _choices(element: dict[str, Any], block_id: str, handle: str, viewer: Viewer, kind: str) -> str:
    initial = element.get("initial_option") or {}
    initial_values = {o.get("value") for o in element.get("initial_options") or [] if isinstance(o, dict)}
    if isinstance(initial, dict) and initial.get("value") is not None:
        initial_values.add(initial.get("value"))
    input_type = "radio" if kind == "radio_buttons" else "checkbox"
    name = esc(f"{block_id}/{element.get('action_id') or ''}")
    rows = []
    for option in element.get("options") or []:
        if not isinstance(option, dict):
            continue
        checked = " checked" if option.get("value") in initial_values else ""
        description = option.get("description")
        extra = f'<span class="bk-choice-description">{text_html(description, viewer)}</span>' if description else ""
        rows.append(f'<label class="bk-choice"><input type="{input_type}" name="{name}" {_option_attrs(option)}'
                    f'{checked}><span>{text_html(option.get("text"), viewer)}</span>{extra}</label>')
    return f'<div class="bk-choices" {_data(kind, element, block_id, handle)}>{"".join(rows)}</div>'


def element_html(element: Any, block_id: str, viewer: Viewer, handle: str = "", dispatch: tuple[str, ...] = ()) -> str:
    """One element; `handle` is its place ("<block>.<element>"), which a click sends back. An input that
    `dispatch`es is marked with when (`character`, `enter`), so the page sends its changes as Slack does."""
    if not isinstance(element, dict):
        return ""
    kind = str(element.get("type") or "")
    if kind == "button":
        style = element.get("style")
        css = f"bk-button {esc(style)}" if style in ("primary", "danger") else "bk-button"
        url = str(element.get("url") or "")
        href = f' data-url="{esc(url)}"' if SAFE_URL.match(url) else ""
        return (f'<span class="bk-button-wrap"><button class="{css}" {_data("button", element, block_id, handle)} '
                f'data-value="{esc(element.get("value") or "")}"{href}>{text_html(element.get("text"), viewer)}'
                f"</button>{_confirm(element, viewer)}</span>")
    if kind in ("static_select", "external_select"):
        return _select(element, block_id, handle, viewer)
    if kind == "overflow":
        items = "".join(
            f'<button class="bk-overflow-item" {_data("overflow", element, block_id, handle)} {_option_attrs(option)}>'
            f"{text_html(option.get('text'), viewer)}</button>"
            for option in element.get("options") or [] if isinstance(option, dict)
        )
        return (f'<details class="bk-overflow"><summary aria-label="More actions">⋯</summary>'
                f'<div class="bk-overflow-menu">{items}</div>{_confirm(element, viewer)}</details>')
    if kind in ("radio_buttons", "checkboxes"):
        return _choices(element, block_id, handle, viewer, kind)
    if kind in ("plain_text_input", "number_input", "email_text_input", "url_text_input"):
        placeholder = esc(_raw_text(element.get("placeholder")))
        value = esc(element.get("initial_value") or "")
        limit = element.get("max_length")
        maxlength = f' maxlength="{int(limit)}"' if isinstance(limit, int) else ""
        data = _data(kind, element, block_id, handle)
        if dispatch:
            data += f' data-dispatch="{esc(" ".join(t.removeprefix("on_").split("_")[0] for t in dispatch))}"'
        if element.get("multiline"):
            return f'<textarea class="bk-input" {data} placeholder="{placeholder}"{maxlength}>{value}</textarea>'
        input_type = {"number_input": "number", "email_text_input": "email", "url_text_input": "url"}.get(kind, "text")
        return (f'<input class="bk-input" type="{input_type}" {data} placeholder="{placeholder}" value="{value}"'
                f"{maxlength}>")
    if kind == "datepicker":
        value = esc(element.get("initial_date") or "")
        return f'<input class="bk-input" type="date" {_data(kind, element, block_id, handle)} value="{value}">'
    if kind == "image":
        # Images would be fetched from elsewhere; the playground downloads nothing, so their words are shown.
        return f'<span class="bk-image">[image: {esc(element.get("alt_text") or "")}]</span>'
    if kind in ("plain_text", "mrkdwn"):
        return f'<span class="bk-context-text">{text_html(element, viewer)}</span>'
    return f'<span class="bk-unsupported">[unsupported element: {esc(kind)}]</span>'


def block_html(block: Any, viewer: Viewer, errors: Mapping[str, str] | None = None, index: int = 0) -> str:
    """Block number `index` of its message or view."""
    if not isinstance(block, dict):
        return ""
    kind = str(block.get("type") or "")
    block_id = str(block.get("block_id") or "")
    attrs = f'class="bk-block bk-{esc(kind)}" data-block-id="{esc(block_id)}"'
    if kind == "section":
        parts = []
        if block.get("text"):
            parts.append(f'<div class="bk-text">{text_html(block["text"], viewer)}</div>')
        fields = block.get("fields") or []
        if fields:
            cells = "".join(f'<div class="bk-field">{text_html(f, viewer)}</div>' for f in fields)
            parts.append(f'<div class="bk-fields">{cells}</div>')
        accessory = block.get("accessory")
        if accessory:
            parts.append(f'<div class="bk-accessory">{element_html(accessory, block_id, viewer, f"{index}.0")}</div>')
        return f"<div {attrs}>{''.join(parts)}</div>"
    if kind == "header":
        return f"<h2 {attrs}>{text_html(block.get('text'), viewer)}</h2>"
    if kind == "divider":
        return f"<hr {attrs}>"
    if kind == "context":
        items = "".join(element_html(e, block_id, viewer, f"{index}.{j}")
                        for j, e in enumerate(block.get("elements") or []))
        return f"<div {attrs}>{items}</div>"
    if kind == "actions":
        items = "".join(element_html(e, block_id, viewer, f"{index}.{j}")
                        for j, e in enumerate(block.get("elements") or []))
        return f"<div {attrs}>{items}</div>"
    if kind == "input":
        optional = '<span class="bk-optional"> (optional)</span>' if block.get("optional") else ""
        hint = f'<div class="bk-hint">{text_html(block["hint"], viewer)}</div>' if block.get("hint") else ""
        error = (errors or {}).get(block_id)
        shown_error = f'<div class="bk-error" role="alert">{plain(error)}</div>' if error else ""
        css = " bk-has-error" if error else ""
        return (f'<div class="bk-block bk-input-block{css}" data-block-id="{esc(block_id)}">'
                f'<label class="bk-label">{text_html(block.get("label"), viewer)}{optional}</label>'
                f"{element_html(block.get('element'), block_id, viewer, f'{index}.0', dispatch_triggers(block))}"
                f"{shown_error}{hint}</div>")
    if kind == "image":
        return f'<div {attrs}><span class="bk-image">[image: {esc(block.get("alt_text") or "")}]</span></div>'
    return f'<div {attrs}><span class="bk-unsupported">[unsupported block: {esc(kind)}]</span></div>'


def blocks_html(blocks: Any, viewer: Viewer, errors: Mapping[str, str] | None = None) -> str:
    if not isinstance(blocks, list):
        return ""
    return "".join(block_html(b, viewer, errors, i) for i, b in enumerate(blocks))


def message_body_html(text: str | None, blocks: Any, viewer: Viewer) -> str:
    """A message draws its blocks when it has them; its `text` is then only the notification text."""
    if isinstance(blocks, list) and blocks:
        return blocks_html(blocks, viewer)
    return f'<div class="bk-text">{mrkdwn(text or "", viewer)}</div>'


def message_html(message_id: str, author: tuple[str, bool], ts: str, text: str | None, blocks: Any,
                 viewer: Viewer, *, ephemeral: bool = False, edited: bool = False, in_thread: bool = False) -> str:
    """One message as Slack's client shows it: author (an app gets its badge), time, body, and for an
    ephemeral one the "Only visible to you" line."""
    name, is_app = author
    seconds = ts.split(".", 1)[0]
    when = datetime.fromtimestamp(int(seconds), viewer.tz) if seconds.isascii() and seconds.isdigit() else None
    clock = f'<time class="msg-time">{esc(format_date(int(seconds), "{time}", viewer))}</time>' if when else ""
    badge = '<span class="msg-app">APP</span>' if is_app else ""
    note = ('<div class="msg-only-you">👁 Only visible to you · '
            '<button class="msg-dismiss" type="button">Dismiss</button></div>') if ephemeral else ""
    css = "msg" + (" msg-ephemeral" if ephemeral else "") + (" msg-thread" if in_thread else "")
    thread = '<div class="msg-thread-note">replied in a thread</div>' if in_thread else ""
    avatar = "🔑" if is_app else esc(name[:1].upper())
    return (f'<div class="{css}" data-message-id="{esc(message_id)}" data-ts="{esc(ts)}">'
            f'<div class="msg-avatar">{avatar}</div>'
            f'<div class="msg-main">{note}<div class="msg-head"><b class="msg-author">{esc(name)}</b>{badge}{clock}'
            f'{"<span class=msg-edited>(edited)</span>" if edited else ""}</div>{thread}'
            f'<div class="msg-body">{message_body_html(text, blocks, viewer)}</div></div></div>')


def day_divider(day: date, viewer: Viewer) -> str:
    return (f'<div class="day-divider" role="separator" data-day="{day.isoformat()}">'
            f"<span>{esc(day_label(day, viewer))}</span></div>")


def day_html(day: date, viewer: Viewer, messages: str) -> str:
    """One day of a conversation: its divider, which stays at the top while its own messages scroll under
    it (and only then: the next day's pushes it away, as in Slack's client), then the messages."""
    return f'<section class="day" data-day="{day.isoformat()}">{day_divider(day, viewer)}{messages}</section>'


def view_html(view: Mapping[str, Any], viewer: Viewer, errors: Mapping[str, str] | None = None, *,
              trouble: str | None = None, depth: int = 1) -> str:
    """A modal: title, close, blocks (with inline errors), and its submit button when it has one."""
    view_id = esc(view.get("id") or "")
    title = text_html(view.get("title") or "", viewer)
    close = text_html(view.get("close") or "Cancel", viewer)
    submit = view.get("submit")
    submit_button = (f'<button class="bk-button primary bk-submit">{text_html(submit, viewer)}</button>'
                     if submit else "")
    return (f'<div class="bk-modal" role="dialog" aria-modal="true" data-view-id="{view_id}" '
            f'data-callback-id="{esc(view.get("callback_id") or "")}">'
            f'<div class="bk-modal-head">'
            f'{"<button class=bk-modal-back type=button aria-label=Back>‹</button>" if depth > 1 else ""}'
            f'<h2 class="bk-modal-title">{title}</h2>'
            f'<button class="bk-modal-x" aria-label="Close">×</button></div>'
            f'<div class="bk-modal-body">{f"<div class=bk-trouble>{esc(trouble)}</div>" if trouble else ""}'
            f'{blocks_html(view.get("blocks"), viewer, errors)}</div>'
            f'<div class="bk-modal-foot"><button class="bk-button bk-close">{close}</button>{submit_button}</div>'
            "</div>")


def used_types(blocks: Any) -> set[str]:
    """Every block, element and text-object type in a tree of Block Kit: to check the renderer covers them."""
    found: set[str] = set()
    stack = [blocks]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("type"), str):
                found.add(item["type"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


#: What this module draws (the rest shows as "[unsupported …]").
SUPPORTED = {
    "section", "header", "divider", "context", "actions", "input", "image", "button", "static_select",
    "external_select", "overflow", "radio_buttons", "checkboxes", "plain_text_input", "number_input",
    "email_text_input", "url_text_input", "datepicker", "plain_text", "mrkdwn", "modal", "home",
}
