"""The step "List DataOS keys that expire soon": how many keys of a person (or of an application user, for
an owner of its team) expire within `within` days, and one line per key (its name and when it expires),
for the workflow's own message. Names and dates only: a key's value is never read for it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.dataos import DataOSError, Token
from bot.identity import Denied
from bot.slack.errors import explain
from bot.slack.owners import act_as
from bot.slack.workflows.definitions import LIST_EXPIRING
from bot.slack.workflows.runs import StepFailed, complete, first_delivery, inputs_of, text_input, user_input
from bot.text import shown

if TYPE_CHECKING:
    from bot.app import Runtime

#: The most days anyone asks about (a key lives at most this long under any sensible policy).
MAX_DAYS = 3660
#: Lines in the text output: a workflow's message has room for this many, and says how many more.
MAX_LINES = 30


async def run(rt: Runtime, client: AsyncWebClient, event: dict[str, Any]) -> None:
    execution = await first_delivery(rt, event)
    if execution is None:
        return
    inputs = inputs_of(event)
    try:
        days = _days(inputs.get("within"))
        tokens, whose = await _keys(rt, inputs)
    except StepFailed as exc:
        await complete(rt, client, execution, LIST_EXPIRING, error=str(exc))
        return
    now = rt.clock()
    soon = sorted((t for t in tokens if now < t.expiration <= now + timedelta(days=days)),
                  key=lambda t: (t.expiration, t.name))
    await complete(rt, client, execution, LIST_EXPIRING, outputs={
        "count": len(soon), "keys_text": keys_text(soon, whose, days, now)})


def keys_text(tokens: list[Token], whose: str, days: int, now: datetime) -> str:
    if not tokens:
        return f"No key of {whose} expires within {days} day{'s' if days != 1 else ''}."
    lines = [f"• `{shown(t.name)}`: expires {_date(t.expiration)} ({_left(t.expiration - now)})"
             for t in tokens[:MAX_LINES]]
    if len(tokens) > MAX_LINES:
        lines.append(f"…and {len(tokens) - MAX_LINES} more.")
    return "\n".join(lines)


def _date(moment: datetime) -> str:
    # Plain text with a fallback: a workflow's message may show it as is, or in each reader's time zone.
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def _left(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"in {hours // 24} days" if hours >= 48 else f"in {hours} hours" if hours >= 1 else "within the hour"


def _days(raw: object) -> int:
    text = str(raw).strip() if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_DAYS:
        raise StepFailed(f"“Within” must be a number of days from 1 to {MAX_DAYS}.")
    return int(text)


async def _keys(rt: Runtime, inputs: dict[str, Any]) -> tuple[list[Token], str]:
    person, app_user = user_input(inputs, "person"), text_input(inputs, "app_user", 255)
    if bool(person) == bool(app_user):
        raise StepFailed("Give either a person or an application user (one of the two).")
    if person:
        identity = await rt.keys.identify(person)
        if isinstance(identity, Denied):
            raise StepFailed(identity.message)
        whose = f"<@{person}>"
    else:  # an application user's keys are its team's business: the bot's one owner check, as everywhere
        requester = user_input(inputs, "requester")
        if not requester:
            raise StepFailed(f"The keys of `{shown(app_user)}` are listed only for an owner of its team: give the "
                             "step a Requester.")
        acting = await act_as(rt, requester, app_user, "workflow list")
        if isinstance(acting, str):
            raise StepFailed(acting)
        identity, whose = acting[0], f"`{shown(app_user)}`"
    try:
        return await rt.keys.list_keys(identity), whose
    except DataOSError as exc:
        raise StepFailed(explain(exc, doing="listing the keys", read=True)) from None
