"""Block Kit of team reminders: the message in a team's channel about one of its application user's keys,
what it turns into once an owner acted, and the admins' messages (an unreachable team channel, the daily
digest of keys no team owns).

No message here ever carries a key's value: the buttons name the key (application user, name AND
expiration), and everything from DataOS or Slack goes through `shown`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.domain.keys import relative
from bot.domain.reminders import step_words
from bot.slack.blocks.chunks import section_blocks
from bot.slack.blocks.common import Message, confirm_text, slack_date
from bot.text import shown

TEAM_RENEW_ACTION = "team_reminder_renew"
TEAM_REVOKE_ACTION = "team_reminder_revoke"
TEAM_SNOOZE_ACTION = "team_reminder_snooze"
TEAM_MUTE_ACTION = "team_reminder_mute"
TEAM_ACTIONS = (TEAM_RENEW_ACTION, TEAM_REVOKE_ACTION, TEAM_SNOOZE_ACTION, TEAM_MUTE_ACTION)
TEAM_RENEW_VIEW = "team_renew_key"
#: Slack's limit on a button's value; an application user id and a key name (≤ 255) fit well inside.
VALUE_MAX = 2000


@dataclass(frozen=True)
class TeamKeyRef:
    """What a team reminder's button names: whose key, which one (name AND expiration)."""

    app_user_id: str
    name: str
    expiration: datetime
    lifetime_hours: int | None


def team_value(app_user_id: str, name: str, expiration: datetime, lifetime_hours: int | None) -> str:
    return json.dumps({"u": app_user_id, "k": name, "e": int(expiration.timestamp()), "h": lifetime_hours or 0},
                      separators=(",", ":"))


def parse_team_value(value: str) -> TeamKeyRef | None:
    """The key a button names, or None for a value that is not one of ours (damaged or forged)."""
    if len(value) > VALUE_MAX:
        return None
    try:
        data = json.loads(value)
        app, name, stamp = str(data["u"]), str(data["k"]), int(data["e"])
        hours = int(data.get("h") or 0) or None
        expiration = datetime.fromtimestamp(stamp, UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError, AttributeError):
        return None
    if not app or not name or len(name) > 255 or len(app) > 255:
        return None
    return TeamKeyRef(app, name, expiration, hours)


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def team_reminder_message(app_user_id: str, name: str, expiration: datetime, now: datetime, step: str, *,
                          owners: str, lifetime_hours: int | None, snooze_words: str | None) -> Message:
    """The reminder in the team channel: readable by everyone there, pressable by owners only."""
    value = team_value(app_user_id, name, expiration, lifetime_hours)

    def button(text: str, action_id: str, style: str | None = None, **extra: Any) -> dict[str, Any]:
        element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": _plain(text), "value": value}
        if style:
            element["style"] = style
        element.update(extra)
        return element

    confirm = {"title": _plain("Revoke this key?"),
               "text": _md(confirm_text(
                   f"*{shown(name, 80)}* of `{shown(app_user_id, 80)}` stops working at once, everywhere.")),
               "confirm": _plain("Revoke"), "deny": _plain("Keep it"), "style": "danger"}
    when = f"{slack_date(expiration)} ({relative(expiration, now)})"
    section = (f":hourglass_flowing_sand: The DataOS API key *{shown(name)}* of application user "
               f"`{shown(app_user_id)}` expires {when}. After that, anything using it is refused by DataOS.")
    why = ("An owner asked to be reminded again." if step.startswith("snooze-")
           else f"The reminder {step_words(step)} before expiry.")
    context = f"Owners: {owners}. Only they can use these buttons. {why}"
    return Message(f"The DataOS API key {shown(name)} of {shown(app_user_id)} expires {relative(expiration, now)}", [
        {"type": "section", "text": _md(section)},
        {"type": "actions", "block_id": "team_reminder", "elements": [
            button("Renew", TEAM_RENEW_ACTION, "primary"),
            button("Revoke", TEAM_REVOKE_ACTION, "danger", confirm=confirm),
            *([button(f"Remind me in {snooze_words}", TEAM_SNOOZE_ACTION)] if snooze_words else []),
            button("Mute", TEAM_MUTE_ACTION),
        ]},
        {"type": "context", "elements": [_md(context)]},
    ])


def team_reminder_done_message(app_user_id: str, name: str, expiration: datetime, outcome: str) -> Message:
    """The channel message once an owner acted: what was done, by whom; no buttons left to press twice."""
    text = (f"The DataOS API key *{shown(name)}* of application user `{shown(app_user_id)}` "
            f"(expires {slack_date(expiration)}): {outcome}")
    return Message(f"{shown(name)} of {shown(app_user_id)}: {outcome}", [{"type": "section", "text": _md(text)}])


#: What each refusal means, and what to do about it.
_UNREACHABLE_WHY = {
    "is_archived": ("the channel is archived", "Unarchive it"),
    "not_in_channel": ("I was removed from it", "Invite me back (`/invite @apikey-bot`)"),
    "channel_not_found": ("it was deleted, or I was removed from a private channel",
                          "Invite me back (`/invite @apikey-bot`)"),
    "restricted_action": ("a workspace setting stops me posting there (posting limited to some people)",
                          "Let apps post there in the channel's settings"),
}


def channel_unreachable_message(app_user_id: str, channel_id: str, reason: str) -> Message:
    """To the admins, each time a team channel becomes unreachable: the team's reminders and leak reports
    go to its owners by DM meanwhile."""
    why, fix = _UNREACHABLE_WHY.get(reason, ("Slack refuses my posts there", "Check the channel"))
    text = (f":warning: I cannot post in <#{shown(channel_id)}>, the team channel of application user "
            f"`{shown(app_user_id)}`: {why} (Slack says `{shown(reason)}`). Its key reminders and leak reports go "
            f"to the team's owners by DM instead. {fix}, or give the team another channel with `/apikey admin team`.")
    return Message(f"I cannot post in the team channel of {shown(app_user_id)}",
                   [{"type": "section", "text": _md(text)}])


@dataclass(frozen=True)
class UnownedKey:
    app_user_id: str
    name: str
    expiration: datetime


def unowned_digest_message(keys: Sequence[UnownedKey], now: datetime) -> Message:
    """One message a day to each admin: keys of application users no team owns that expire within 7 days."""
    lines = [f"• `{shown(k.app_user_id)}`: *{shown(k.name)}* expires {slack_date(k.expiration)} "
             f"({relative(k.expiration, now)})" for k in keys[:20]]
    if len(keys) > 20:
        lines.append(f"… and {len(keys) - 20} more")
    head = (f":hourglass_flowing_sand: {len(keys)} key(s) of application users with no team expire within 7 days. "
            "Nobody gets a reminder for them: give each application user a team with `/apikey admin team`.")
    listed = section_blocks(lines, more="… and more: `/apikey admin teams` lists every application user with keys "
                                        "but no team.")
    return Message(f"{len(keys)} key(s) of application users with no team expire within 7 days", [
        {"type": "section", "text": _md(head)}, *(b.to_dict() for b in listed)])
