"""Expiry reminder DMs (people's keys and the bot's own) and what they turn into once answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, ConfirmObject, ContextBlock, SectionBlock

from bot.domain.keys import relative
from bot.domain.reminders import step_words
from bot.slack.blocks.common import Message, confirm_text, exact_value, md, message_from, slack_date
from bot.slack.blocks.ids import MUTE_ACTION, REMINDER_REVOKE_ACTION, RENEW_ACTION, SNOOZE_ACTION
from bot.text import shown


def _reminder_context(step: str) -> str:
    why = ("You asked me to remind you again." if step.startswith("snooze-")
           else f"The reminder {step_words(step)} before expiry.")
    return f"{why} Mute stops reminders for this key; `/apikey reminders off` stops them all."


def reminder_value(name: str, expiration: datetime, lifetime_hours: int | None) -> str:
    """A reminder button's value: which key (never its secret)."""
    return exact_value(name, expiration, h=lifetime_hours or 0)


def reminder_message(name: str, expiration: datetime, now: datetime, step: str, *, lifetime_hours: int | None,
                     snooze_words: str | None) -> Message:
    """The reminder DM; without `snooze_words` (a snooze would outlast the key) it has no snooze button.
    Plain dicts rather than `slack_sdk.models`, unlike the other builders: a tick or a
    discovery builds hundreds at once, and the models' validation cost 1.6 ms each. A unit test checks
    that this is exactly what the models build, and that it validates."""
    value = reminder_value(name, expiration, lifetime_hours)
    when = f"{slack_date(expiration)} ({relative(expiration, now)})"

    def plain(text: str) -> dict[str, Any]:
        return {"emoji": True, "text": text, "type": "plain_text"}

    def button(text: str, action_id: str, style: str | None = None, **extra: Any) -> dict[str, Any]:
        element: dict[str, Any] = {"action_id": action_id}
        element.update(extra)
        if style:
            element["style"] = style
        element.update({"text": plain(text), "type": "button", "value": value})
        return element

    confirm = {"title": plain("Revoke this key?"),
               "text": {"text": f"*{shown(name, 80)}* stops working at once, everywhere.", "type": "mrkdwn"},
               "confirm": plain("Revoke"), "deny": plain("Keep it"), "style": "danger"}
    section = (f":hourglass_flowing_sand: Your DataOS API key *{shown(name)}* expires {when}. "
               "After that, anything using it is refused by DataOS.")
    context = _reminder_context(step)
    return Message(f"Your DataOS API key {shown(name)} expires {relative(expiration, now)}", [
        {"text": {"text": section, "type": "mrkdwn"}, "type": "section"},
        {"block_id": "reminder", "elements": [
            button("Renew", RENEW_ACTION, "primary"),
            button("Revoke", REMINDER_REVOKE_ACTION, "danger", confirm=confirm),
            *([button(f"Remind me in {snooze_words}", SNOOZE_ACTION)] if snooze_words else []),
            button("Mute", MUTE_ACTION),
        ], "type": "actions"},
        {"elements": [{"text": context, "type": "mrkdwn"}], "type": "context"},
    ])


def reminder_message_from_models(name: str, expiration: datetime, now: datetime, step: str, *,
                                 lifetime_hours: int | None, snooze_words: str | None) -> Message:
    """`reminder_message` as `slack_sdk.models` build it: the reference the fast builder is tested against."""
    value = reminder_value(name, expiration, lifetime_hours)
    when = f"{slack_date(expiration)} ({relative(expiration, now)})"
    return message_from(
        f"Your DataOS API key {shown(name)} expires {relative(expiration, now)}",
        [
            SectionBlock(text=md(f":hourglass_flowing_sand: Your DataOS API key *{shown(name)}* expires {when}. "
                                  "After that, anything using it is refused by DataOS.")),
            ActionsBlock(block_id="reminder", elements=[
                ButtonElement(text="Renew", action_id=RENEW_ACTION, value=value, style="primary"),
                ButtonElement(text="Revoke", action_id=REMINDER_REVOKE_ACTION, value=value, style="danger",
                              confirm=ConfirmObject(title="Revoke this key?",
                                                    text=confirm_text(
                                                        f"*{shown(name, 80)}* stops working at once, everywhere."),
                                                    confirm="Revoke", deny="Keep it", style="danger")),
                *([ButtonElement(text=f"Remind me in {snooze_words}", action_id=SNOOZE_ACTION, value=value)]
                  if snooze_words else []),
                ButtonElement(text="Mute", action_id=MUTE_ACTION, value=value),
            ]),
            ContextBlock(elements=[md(_reminder_context(step))]),
        ],
    )


def bot_key_reminder_message(name: str, expiration: datetime, now: datetime, dataos_user: str) -> Message:
    return message_from(
        f"The bot's own DataOS key expires {relative(expiration, now)}",
        [
            SectionBlock(text=md(
                f":rotating_light: The bot's own DataOS API key *{shown(name)}* (user `{shown(dataos_user)}`) "
                f"expires {slack_date(expiration)} ({relative(expiration, now)}). When it does, the bot stops "
                "working for everyone.")),
            SectionBlock(text=md("To rotate it: create a new key for that application user, put it in "
                                  "`DATAOS_APIKEY` (or the DataOS Secret), restart the bot, then revoke the old "
                                  "one. `apikey-bot doctor` shows the key in use.")),
        ],
    )


def reminder_done_message(name: str, expiration: datetime, outcome: str) -> Message:
    """What a reminder DM turns into once a button was used: no buttons left to press twice."""
    return message_from(f"{shown(name)}: {outcome}", [
        SectionBlock(text=md(f"Your DataOS API key *{shown(name)}* (expires {slack_date(expiration)}): {outcome}")),
    ])
