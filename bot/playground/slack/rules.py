"""What Slack refuses in a message or a view, so that the stand-in refuses it too, in every test.

Each block goes through slack_sdk's own models (`Block.parse`, then `to_dict()`, which runs every
validator the SDK knows), and then through Slack's documented limits, some of which the SDK does not
check: a section's text ≤ 3,000 characters, ≤ 50 blocks in a message and ≤ 100 in a modal or Home tab,
≤ 100 options in a select, a button's text ≤ 75 and value ≤ 2,000, a confirm's text ≤ 300, a modal's
title, submit and close ≤ 24, private_metadata ≤ 3,000, block and action ids ≤ 255 and distinct, and a
message's total text. Slack answers such a message with `invalid_blocks` (or `msg_too_long`,
`msg_blocks_too_long`) and such a view with `invalid_arguments`; the message or view is lost. The
reasons come back as Slack gives them, `[ERROR] … [json-pointer:/blocks/3/text]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
#: A message's `text` longer than this is refused (`msg_too_long`).
MESSAGE_TEXT = 40_000
#: All the text in a message's blocks together; past it Slack answers `msg_blocks_too_long`.
MESSAGE_BLOCKS_TEXT = 12_000
SECTION_TEXT = 3000
SECTION_FIELDS, FIELD_TEXT = 10, 2000
HEADER_TEXT = 150
BUTTON_TEXT, BUTTON_VALUE, URL = 75, 2000, 3000
OPTION_TEXT, OPTION_VALUE = 75, 150
SELECT_OPTIONS = 100
PLACEHOLDER = 150
CONFIRM_TITLE, CONFIRM_TEXT, CONFIRM_BUTTON = 100, 300, 30
VIEW_TITLE = 24
PRIVATE_METADATA = 3000
ID_LENGTH = 255
INPUT_LABEL = 2000
#: Elements a block may hold.
ELEMENTS = {"actions": 25, "context": 10}
#: Options an element may hold (selects hold `SELECT_OPTIONS`).
OPTIONS = {"overflow": 5, "radio_buttons": 10, "checkboxes": 10}
#: What a view may carry when an app sends it (Slack adds `id`, `hash`, `state`… itself).
VIEW_KEYS = {"type", "title", "blocks", "close", "submit", "private_metadata", "callback_id", "clear_on_close",
             "notify_on_close", "external_id", "submit_disabled"}
#: Fields of a message an app posts (chat.*, or a response_url).
MESSAGE_KEYS = {"text", "blocks", "attachments", "mrkdwn", "response_type", "replace_original", "delete_original",
                "thread_ts", "unfurl_links", "unfurl_media", "metadata", "reply_broadcast", "parse", "link_names",
                "username", "icon_emoji", "icon_url", "as_user", "channel", "user", "ts", "token", "file_ids",
                "markdown_text", "post_at"}
SELECTS = {"static_select", "multi_static_select", "external_select", "multi_external_select"}


@dataclass(frozen=True)
class Refusal:
    """Why Slack refuses: its error code and its `response_metadata.messages`."""

    error: str
    messages: tuple[str, ...]

    def answer(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, "response_metadata": {"messages": list(self.messages)}}


def message_refusal(message: dict[str, Any]) -> Refusal | None:
    """What Slack says to a message (chat.postMessage, postEphemeral, update, or a response_url post)."""
    text = message.get("text")
    blocks = message.get("blocks")
    if not text and not blocks and not message.get("attachments") and not message.get("delete_original"):
        return Refusal("no_text", ("[ERROR] a message needs text or blocks",))
    if isinstance(text, str) and len(text) > MESSAGE_TEXT:
        return Refusal("msg_too_long", (f"[ERROR] text is {len(text)} characters; at most {MESSAGE_TEXT}",))
    if blocks is None:
        return None
    problems = _blocks(blocks, "/blocks", MESSAGE_BLOCKS, "message")
    if problems:
        return Refusal("invalid_blocks", tuple(problems))
    total = sum(len(t) for t in _texts(blocks))
    if total > MESSAGE_BLOCKS_TEXT:
        return Refusal("msg_blocks_too_long", (
            f"[ERROR] the blocks hold {total} characters of text; at most about {MESSAGE_BLOCKS_TEXT}",))
    return None


def view_refusal(view: Any) -> Refusal | None:
    """What Slack says to a view (views.open/push/update/publish, or a submission's `response_action`)."""
    if not isinstance(view, dict):
        return Refusal("invalid_arguments", ("[ERROR] view must be an object [json-pointer:/view]",))
    problems = [f"[ERROR] unknown field [json-pointer:/view/{k}]" for k in sorted(set(view) - VIEW_KEYS)]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        problems.append("[ERROR] type must be modal or home [json-pointer:/view/type]")
    for name in ("title", "submit", "close"):
        problems += _plain(view.get(name), f"/view/{name}", VIEW_TITLE, required=name == "title" and kind == "modal")
    metadata = view.get("private_metadata")
    if metadata is not None and (not isinstance(metadata, str) or len(metadata) > PRIVATE_METADATA):
        problems.append(f"[ERROR] private_metadata must be a string of at most {PRIVATE_METADATA} characters "
                        "[json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id") or "")) > ID_LENGTH:
        problems.append(f"[ERROR] callback_id longer than {ID_LENGTH} [json-pointer:/view/callback_id]")
    blocks = view.get("blocks")
    if blocks is None:
        problems.append("[ERROR] blocks is required [json-pointer:/view/blocks]")
    else:
        problems += _blocks(blocks, "/view/blocks", VIEW_BLOCKS, str(kind))
        if kind == "modal" and view.get("submit") is None and any(
                isinstance(b, dict) and b.get("type") == "input" for b in blocks):
            problems.append("[ERROR] a modal with an input block needs submit [json-pointer:/view/submit]")
    if not problems:
        try:
            View(**view).to_dict()
        except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
            problems.append(f"[ERROR] {exc} [json-pointer:/view]")
    return Refusal("invalid_arguments", tuple(problems)) if problems else None


def options_refusal(answer: Any) -> Refusal | None:
    """What Slack makes of an app's answer to `block_suggestion` (an external select's options): at most
    100 options (or groups of them), each as a select's option is checked."""
    if not isinstance(answer, dict) or not isinstance(answer.get("options", answer.get("option_groups")), list):
        return Refusal("invalid_options", ("[ERROR] the answer needs options or option_groups",))
    element = {"type": "external_select", "option_groups": answer["option_groups"]} if "option_groups" in answer \
        else {"type": "static_select", "options": answer["options"]}
    problems = _element(element, "")
    return Refusal("invalid_options", tuple(problems)) if problems else None


def _blocks(blocks: Any, at: str, limit: int, surface: str) -> list[str]:
    if not isinstance(blocks, list):
        return [f"[ERROR] blocks must be an array [json-pointer:{at}]"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"[ERROR] {len(blocks)} blocks; a {surface} takes at most {limit} [json-pointer:{at}]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"{at}/{i}"
        if not isinstance(block, dict):
            problems.append(f"[ERROR] a block must be an object [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"[ERROR] duplicate block_id {block_id!r} [json-pointer:{where}/block_id]")
            seen.add(str(block_id))
        problems += _sdk(block, where) or _limits(block, where)
    return problems


def _sdk(block: dict[str, Any], at: str) -> list[str]:
    """slack_sdk's own models: the block's type, its fields, and every validator they carry."""
    try:
        parsed = Block.parse(dict(block))
        if parsed is None:
            return [f"[ERROR] unknown block type {block.get('type')!r} [json-pointer:{at}/type]"]
        parsed.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"[ERROR] {exc} [json-pointer:{at}]"]
    unknown = set(block) - set(parsed.attributes) - {"type"}
    return [f"[ERROR] unknown field [json-pointer:{at}/{k}]" for k in sorted(unknown)]


def _limits(block: dict[str, Any], at: str) -> list[str]:
    """Slack's documented limits on one block, as sent."""
    kind = block.get("type")
    problems: list[str] = []
    if len(str(block.get("block_id") or "")) > ID_LENGTH:
        problems.append(f"[ERROR] block_id longer than {ID_LENGTH} [json-pointer:{at}/block_id]")
    if kind == "section":
        if "text" in block:
            problems += _text(block["text"], f"{at}/text", SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > SECTION_FIELDS:
            problems.append(f"[ERROR] more than {SECTION_FIELDS} fields [json-pointer:{at}/fields]")
        for j, item in enumerate(fields):
            problems += _text(item, f"{at}/fields/{j}", FIELD_TEXT)
        if isinstance(block.get("accessory"), dict):
            problems += _element(block["accessory"], f"{at}/accessory")
    elif kind == "header":
        problems += _plain(block.get("text"), f"{at}/text", HEADER_TEXT, required=True)
    elif kind in ELEMENTS:
        elements = block.get("elements") or []
        if len(elements) > ELEMENTS[kind]:
            problems.append(f"[ERROR] more than {ELEMENTS[kind]} elements [json-pointer:{at}/elements]")
        action_ids: set[str] = set()
        for j, element in enumerate(elements):
            if not isinstance(element, dict):
                continue
            if element.get("type") in ("mrkdwn", "plain_text"):
                problems += _text(element, f"{at}/elements/{j}", SECTION_TEXT)
                continue
            if element.get("action_id") in action_ids:
                problems.append(f"[ERROR] duplicate action_id [json-pointer:{at}/elements/{j}/action_id]")
            action_ids.add(str(element.get("action_id")))
            problems += _element(element, f"{at}/elements/{j}")
    elif kind == "input":
        problems += _plain(block.get("label"), f"{at}/label", INPUT_LABEL, required=True)
        problems += _plain(block.get("hint"), f"{at}/hint", INPUT_LABEL)
        if isinstance(block.get("element"), dict):
            problems += _element(block["element"], f"{at}/element")
    return problems


def _element(element: dict[str, Any], at: str) -> list[str]:
    kind = str(element.get("type") or "")
    problems: list[str] = []
    if element.get("action_id") is not None and len(str(element["action_id"])) > ID_LENGTH:
        problems.append(f"[ERROR] action_id longer than {ID_LENGTH} [json-pointer:{at}/action_id]")
    if kind == "button":
        problems += _plain(element.get("text"), f"{at}/text", BUTTON_TEXT, required=True)
        if len(str(element.get("value") or "")) > BUTTON_VALUE:
            problems.append(f"[ERROR] value longer than {BUTTON_VALUE} [json-pointer:{at}/value]")
        if len(str(element.get("url") or "")) > URL:
            problems.append(f"[ERROR] url longer than {URL} [json-pointer:{at}/url]")
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += list((group or {}).get("options") or []) if isinstance(group, dict) else []
    most = OPTIONS.get(kind, SELECT_OPTIONS)
    if len(options) > most:
        problems.append(f"[ERROR] {len(options)} options; at most {most} [json-pointer:{at}/options]")
    if kind in ("external_select", "multi_external_select") and element.get("options"):
        problems.append(f"[ERROR] an external select loads its options [json-pointer:{at}/options]")
    for j, option in enumerate(options):
        if isinstance(option, dict):
            problems += _text(option.get("text"), f"{at}/options/{j}/text", OPTION_TEXT)
            if len(str(option.get("value") or "")) > OPTION_VALUE:
                problems.append(f"[ERROR] option value longer than {OPTION_VALUE} [json-pointer:{at}/options/{j}]")
    if "placeholder" in element:
        problems += _plain(element["placeholder"], f"{at}/placeholder", PLACEHOLDER)
    confirm = element.get("confirm")
    if isinstance(confirm, dict):
        problems += _plain(confirm.get("title"), f"{at}/confirm/title", CONFIRM_TITLE, required=True)
        problems += _text(confirm.get("text"), f"{at}/confirm/text", CONFIRM_TEXT)
        problems += _plain(confirm.get("confirm"), f"{at}/confirm/confirm", CONFIRM_BUTTON, required=True)
        problems += _plain(confirm.get("deny"), f"{at}/confirm/deny", CONFIRM_BUTTON, required=True)
    return problems


def _text(value: Any, at: str, limit: int) -> list[str]:
    """A text object (plain_text or mrkdwn) of 1 to `limit` characters."""
    if not isinstance(value, dict) or value.get("type") not in ("plain_text", "mrkdwn"):
        return [f"[ERROR] must be a text object [json-pointer:{at}]"]
    text = value.get("text")
    if not isinstance(text, str) or not text:
        return [f"[ERROR] text must be at least 1 character [json-pointer:{at}/text]"]
    if len(text) > limit:
        return [f"[ERROR] must be less than {limit + 1} characters [json-pointer:{at}/text]"]
    return []


def _plain(value: Any, at: str, limit: int, *, required: bool = False) -> list[str]:
    if value is None:
        return [f"[ERROR] is required [json-pointer:{at}]"] if required else []
    if not isinstance(value, dict) or value.get("type") != "plain_text":
        return [f"[ERROR] must be a plain_text object [json-pointer:{at}]"]
    return _text(value, at, limit)


def _texts(value: Any) -> list[str]:
    """Every text object's text in `value`, as a person could read it."""
    if isinstance(value, list):
        return [t for item in value for t in _texts(item)]
    if not isinstance(value, dict):
        return []
    if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
        return [value["text"]]
    return [t for item in value.values() for t in _texts(item)]
