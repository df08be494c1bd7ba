"""Block Kit of the Workflow Builder steps: the person's confirmation of a key a workflow asks to create
for them (posted with the step's own token, so its buttons carry the step's execution: Slack's function
interactivity), and what that message says once they answered."""

from __future__ import annotations

import json
from datetime import datetime

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock

from bot.domain.durations import humanize_hours
from bot.slack.blocks.common import Message, md, message_from, slack_date
from bot.text import shown

CONFIRM_ACTION = "workflow_create_confirm"
DECLINE_ACTION = "workflow_create_decline"


def what(name: str | None) -> str:
    return f"`{shown(name)}`" if name else "a key (DataOS picks its name)"


def confirm_value(name: str | None, hours: int) -> str:
    """The exact key the button makes (its name and validity), checked again at the click."""
    return json.dumps({"n": name or "", "h": hours}, separators=(",", ":"))


def parse_confirm_value(value: str) -> tuple[str | None, int] | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str) or not isinstance(data.get("h"), int):
        return None
    return data["n"] or None, data["h"]


def confirm_message(name: str | None, hours: int) -> Message:
    text = (f":key: A workflow asks me to create a DataOS API key for you: {what(name)}, valid for "
            f"{humanize_hours(hours)}. It arrives privately here; the workflow sees only its name and expiry.")
    value = confirm_value(name, hours)
    return message_from(text, [
        SectionBlock(text=md(text)),
        ActionsBlock(block_id="workflow_create", elements=[
            ButtonElement(text="Create my key", action_id=CONFIRM_ACTION, value=value, style="primary"),
            ButtonElement(text="Don't create it", action_id=DECLINE_ACTION, value=value),
        ]),
    ])


def answered_message(text: str) -> Message:
    return message_from(text, [SectionBlock(text=md(text))])


def created_text(name: str, expiration: datetime, delivered: bool) -> str:
    where = "it is in a message here that only you can see" if delivered else \
        "Slack did not take the private message with it; `/apikey list` can reveal it"
    return f":white_check_mark: Created `{shown(name)}`, valid until {slack_date(expiration)}: {where}."
