"""The App Home tab."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.dataos import Token
from bot.identity import Denied, Identity
from bot.slack.blocks.common import md, render_id
from bot.slack.blocks.ids import CREATE_ACTION, HOME_REMINDERS_ACTION, RENEW_ACTION
from bot.slack.blocks.keys import key_block_id, key_row_blocks
from bot.slack.blocks.reminders import reminder_value
from bot.store.pending import Scheduled, revoke_time
from bot.text import shown


def home_view(identity: Identity | Denied, tokens: Sequence[Token], now: datetime, *, reminders_on: bool,
              notice: str | None = None, problem: str | None = None,
              scheduled: Scheduled | None = None) -> dict[str, Any]:
    """The Home tab: how the person is mapped, their keys with actions, their reminder setting."""
    home_blocks: list[Block] = [HeaderBlock(text="Your DataOS API keys")]
    if notice:
        home_blocks.append(SectionBlock(text=md(notice)))
    if isinstance(identity, Denied):
        home_blocks.append(SectionBlock(text=md(f":no_entry: {identity.message}")))
        return View(type="home", blocks=home_blocks).to_dict()
    how = {"e-mail": "by your Slack e-mail", "self link": "because you linked yourself",
           "admin link": "by a platform admin"}[identity.how]
    home_blocks.append(ContextBlock(elements=[md(f"You are DataOS user `{shown(identity.dataos_user_id)}`, "
                                                  f"mapped {how}. Dates are in your time zone.")]))
    home_blocks.append(ActionsBlock(block_id="home_actions", elements=[
        ButtonElement(text="Create a key", action_id=CREATE_ACTION, value="create", style="primary"),
        ButtonElement(text="Turn reminders off" if reminders_on else "Turn reminders on",
                      action_id=HOME_REMINDERS_ACTION, value="off" if reminders_on else "on"),
    ]))
    home_blocks.append(SectionBlock(text=md(
        f"Expiry reminders are *{'on' if reminders_on else 'off'}*.")))
    home_blocks.append(DividerBlock())
    if problem:
        home_blocks.append(SectionBlock(text=md(f":x: {problem}")))
    elif not tokens:
        home_blocks.append(SectionBlock(text=md("You have no DataOS API keys.")))
    render = render_id()
    for i, token in enumerate(tokens[:40]):  # 2 blocks each: within Home's 100
        key_blocks = key_row_blocks(token, now, key_block_id(render, i, token),
                                 revoke_time(scheduled or {}, token.name, token.expiration))
        actions = key_blocks[1]
        assert isinstance(actions, ActionsBlock)
        actions.elements.append(ButtonElement(text="Renew", action_id=RENEW_ACTION,
                                              value=reminder_value(token.name, token.expiration, None)))
        home_blocks += key_blocks
    if len(tokens) > 40:
        home_blocks.append(ContextBlock(elements=[md(f"And {len(tokens) - 40} more: `/apikey list` pages them.")]))
    return View(type="home", blocks=home_blocks).to_dict()
