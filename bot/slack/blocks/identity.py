"""Who you are in DataOS: `/apikey whoami` and the `/apikey link` form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, SectionBlock
from slack_sdk.models.views import View

from bot.dataos import User
from bot.identity import Identity, Mapped
from bot.slack.blocks.common import Message, md, text_message
from bot.slack.blocks.ids import LINK_BLOCK, LINK_INPUT, LINK_VIEW
from bot.text import shown

MAPPED_HOW = {"e-mail": "by e-mail", "self link": "linked themselves", "admin link": "linked by an admin"}


def whoami_message(identity: Identity, user: User | None, others: Sequence[Mapped] = ()) -> Message:
    who = f"`{shown(identity.dataos_user_id)}`"
    if user is not None and (user.name or user.email):
        who += f" ({shown(' · '.join(x for x in (user.name, user.email) if x), 240)})"
    how = {
        "e-mail": f"because your Slack e-mail {shown(identity.email)} matches that DataOS user",
        "self link": "because you linked yourself with `/apikey link`",
        "admin link": "because a platform admin linked you",
    }[identity.how]
    text = f"You are DataOS user {who}, {how}."
    if others:
        listed = ", ".join(f"<@{slack_id}> ({MAPPED_HOW[kind]})" for slack_id, kind in others[:10])
        text += (f"\n:warning: Also acting as this DataOS user: {listed}. If that is not right, "
                 "tell a platform admin.")
    return text_message(text)


def link_modal() -> dict[str, Any]:
    return View(
        type="modal", callback_id=LINK_VIEW, title="Link your DataOS user", submit="Link", close="Cancel",
        blocks=[
            SectionBlock(text=md("Paste one of your DataOS API keys. I ask DataOS who owns it and link you to "
                                  "that user. The key is checked once and never stored.")),
            InputBlock(block_id=LINK_BLOCK, label="A DataOS API key of yours",
                       element=PlainTextInputElement(action_id=LINK_INPUT, max_length=512,
                                                     placeholder="Paste the key")),
        ],
    ).to_dict()
