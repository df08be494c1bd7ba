"""Shared Block Kit pieces: the message type and its 50-block check, Slack date tokens, button values
that name an exact key, fresh block ids, private_metadata, and the modals that only show something."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.domain.keys import key_ref
from bot.identity import Denied
from bot.slack.blocks.chunks import clip_whole
from bot.slack.blocks.ids import INFO_VIEW

MAX_MESSAGE_BLOCKS = 50
#: Slack refuses a confirm dialog whose text is longer.
CONFIRM_TEXT = 300


#: What a click on a button whose value does not parse gets (a value edited, or from an older version).
DAMAGED_BUTTON = "That button is damaged; nothing was changed."


@dataclass(frozen=True)
class Message:
    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)

    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "blocks": self.blocks}


def message_from(text: str, blocks: Sequence[Block]) -> Message:
    built = [b.to_dict() for b in blocks]
    if len(built) > MAX_MESSAGE_BLOCKS:
        raise ValueError(f"message has {len(built)} blocks; Slack allows {MAX_MESSAGE_BLOCKS}")
    return Message(text, built)


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=text)


def slack_date(moment: datetime) -> str:
    """A date Slack renders in each viewer's own time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def slack_day(moment: datetime) -> str:
    """"on Nov 27, 2026 at 14:05" in each viewer's time zone: for after a verb ("revoked … on …"), where
    `slack_date`'s "today at 14:05" would read "on today at"."""
    fallback = moment.strftime("on %Y-%m-%d at %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^on {{date_short}} at {{time}}|{fallback}>"


def confirm_text(text: str) -> str:
    """A confirm dialog's text within Slack's 300 characters (escaping can make a clipped name longer),
    cut between entities, never inside one."""
    return clip_whole(text, CONFIRM_TEXT)


def text_message(text: str) -> Message:
    return message_from(text, [SectionBlock(text=md(text))])


def denied_message(denied: Denied) -> Message:
    return text_message(f":no_entry: {denied.message}")


def render_id() -> str:
    """A fresh suffix for the block ids of a message or view that is drawn again in place: Slack asks
    for new block ids per iteration, or it may keep the previous iteration's state."""
    return uuid.uuid4().hex[:8]


def exact_value(name: str, expiration: datetime, **extra: str | int) -> str:
    """The value of a button that changes a key: exactly which key it showed, name AND expiration (epoch
    seconds), never its secret. The listener re-reads the key and acts only if it is still that one."""
    return json.dumps({"k": key_ref(name), "e": int(expiration.timestamp()), **extra}, separators=(",", ":"))


def meta_json(**values: str) -> str:
    text = json.dumps(values, separators=(",", ":"))
    if len(text) > 3000:
        raise ValueError("private_metadata too long")
    return text


def text_object(text: str) -> PlainTextObject:
    return PlainTextObject(text=text)


def info_modal(title: str, text: str, *, buttons: Sequence[ButtonElement] = (), context: str | None = None,
               close: str = "Close") -> dict[str, Any]:
    """A modal that only shows something (progress, a result, an error)."""
    blocks: list[Block] = [SectionBlock(text=md(text))]
    if buttons:
        blocks.append(ActionsBlock(block_id="info_actions", elements=list(buttons)))
    if context:
        blocks.append(ContextBlock(elements=[md(context)]))
    return View(type="modal", callback_id=INFO_VIEW, title=title[:24], close=close, blocks=blocks).to_dict()


@functools.lru_cache(maxsize=64)
def working_modal(title: str, text: str) -> dict[str, Any]:
    return info_modal(title, f":hourglass_flowing_sand: {text}")
