"""Block Kit of "Was this you?" (issue #28): the message about keys the bot did not make, with That was me
and Revoke it per key (each naming its exact key), as it reads once answered, and the audit channel's line
for one nobody answered. Never a key's value."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement, ConfirmObject, ContextBlock, SectionBlock

from bot.domain.durations import humanize_hours
from bot.domain.keys import key_ref
from bot.slack.blocks.common import Message, md, message_from, render_id, slack_date
from bot.store.notices import Notice
from bot.text import shown

NOTICE_MINE_ACTION = "notice_mine"
NOTICE_REVOKE_ACTION = "notice_revoke"
#: Keys told in one message (two blocks each, within Slack's 50); more are told in further messages.
MAX_KEYS = 20


def notice_value(notice: Notice) -> str:
    """Exactly which key: whose, its name and its expiration (never its value)."""
    return json.dumps({"u": notice.dataos_user_id, "k": key_ref(notice.key_name),
                       "e": int(notice.expiration.timestamp())}, separators=(",", ":"))


def parse_notice_value(value: str) -> tuple[str, str, datetime] | None:
    try:
        data = json.loads(value)
        owner, name, stamp = str(data["u"]), str(data["k"]), int(data["e"])
        expiration = datetime.fromtimestamp(stamp, UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError):
        return None
    if not owner or not name or len(owner) > 255 or len(name) > 255:
        return None
    return owner, name, expiration


def _answered(notice: Notice) -> str | None:
    if notice.answer is None:
        return None
    who = f"<@{notice.answered_by}>" if notice.answered_by else "someone"
    when = slack_date(notice.answered_at) if notice.answered_at else ""
    return {"mine": f":ballot_box_with_check: {who} said this key is theirs {when}.",
            "revoked": f":wastebasket: Revoked by {who} {when}.",
            "gone": f"Already gone from DataOS when {who} answered {when}; nothing was revoked."}.get(
        notice.answer, f"Answered by {who} {when}.")


def notice_message(notices: Sequence[Notice], now: datetime) -> Message:
    """One message for one owner's new keys (at most MAX_KEYS); answered keys say how."""
    first = notices[0]
    whose = (f" of application user `{shown(first.dataos_user_id)}`" if first.app_user else "")
    count = len(notices)
    opening = (f":mag: A new DataOS API key{whose} was created outside Slack:" if count == 1 else
               f":mag: {count} new DataOS API keys{whose} were created outside Slack:")
    blocks: list[Block] = [SectionBlock(text=md(f"*Was this you?* {opening}"))]
    render = render_id()
    for i, notice in enumerate(notices[:MAX_KEYS]):
        name = shown(notice.key_name)
        blocks.append(SectionBlock(text=md(
            f"`{name}` (valid until {slack_date(notice.expiration)}) was created outside Slack, first seen "
            f"{slack_date(notice.first_seen)}.")))
        answered = _answered(notice)
        if answered is not None:
            blocks.append(ContextBlock(elements=[md(answered)]))
            continue
        value = notice_value(notice)
        blocks.append(ActionsBlock(block_id=f"notice:{render}:{i}:{key_ref(notice.key_name, 100)}", elements=[
            ButtonElement(text="That was me", action_id=NOTICE_MINE_ACTION, value=value, style="primary"),
            ButtonElement(text="Revoke it", action_id=NOTICE_REVOKE_ACTION, value=value, style="danger",
                          confirm=ConfirmObject(
                              title="Revoke this key?",
                              text=f"`{shown(notice.key_name, 80)}` (valid until "
                                   f"{notice.expiration:%Y-%m-%d %H:%M} UTC) stops working at once, everywhere it "
                                   "is used.",
                              confirm="Revoke it", deny="Keep it", style="danger")),
        ]))
    who = ("Its team's owners answer here; platform admins may too." if first.audience.startswith("team:") else
           "Platform admins answer: the application user has no team." if first.app_user else
           "Not yours? Revoke it: it stops working at once. That was me keeps it, and tells nobody else.")
    blocks.append(ContextBlock(elements=[md(who)]))
    text = (f"A new DataOS API key `{shown(first.key_name, 80)}`{whose} (valid until "
            f"{first.expiration:%Y-%m-%d %H:%M} UTC) was created outside Slack" if count == 1 else
            f"{count} new DataOS API keys{whose} were created outside Slack")
    return message_from(text, blocks)


def escalation_line(notice: Notice, after: timedelta) -> str:
    """The audit channel's one line for a notice nobody answered."""
    whose = (f"application user `{shown(notice.dataos_user_id)}`" if notice.app_user else
             f"`{shown(notice.dataos_user_id)}`")
    told = {"owner": lambda who: f"<@{who}>", "team": lambda who: f"<#{who}>"}
    kind, _, who = notice.audience.partition(":")
    to = told[kind](who) if kind in told else "the platform admins"
    within = humanize_hours(max(1, int(after.total_seconds() // 3600)))
    return (f":mag: Nobody answered “Was this you?” for key `{shown(notice.key_name)}` of {whose} (valid until "
            f"{slack_date(notice.expiration)}, created outside Slack) within {within}; it was told to {to}.")
