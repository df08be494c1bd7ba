"""Block Kit of rotations: the channel's announcement of a rotated key (and its update once the old key is
revoked), the failure message with Retry and Renew by hand, the admins' note, and the lines that say how a
team key rotates (`/apikey admin team`, the team list, the channel reminder).

Never a key or a hash of one: a message names the application user, the key names, the Vault path and
version, and dates. Everything from DataOS, Vault paths typed by an admin, and error words go through
`shown`. A section stays well under Slack's 3,000 characters (names are capped).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.durations import humanize_hours
from bot.domain.keys import relative
from bot.domain.rotation import describe_grace
from bot.slack.blocks.common import Message, slack_date, slack_day
from bot.slack.blocks.revocations import revoke_now_blocks
from bot.text import shown

ROTATE_NOW_ACTION = "rotation_now"
RETRY_ACTION = "rotation_retry"
RENEW_BY_HAND_ACTION = "rotation_renew_by_hand"
ROTATION_ACTIONS = (ROTATE_NOW_ACTION, RETRY_ACTION, RENEW_BY_HAND_ACTION)
VALUE_MAX = 2000


@dataclass(frozen=True)
class RotationRef:
    """What a rotation button names: whose key, exactly which one (name AND expiration)."""

    app_user_id: str
    name: str
    expiration: datetime


def rotation_value(app_user_id: str, name: str, expiration: datetime) -> str:
    return json.dumps({"u": app_user_id, "k": name, "e": int(expiration.timestamp())}, separators=(",", ":"))


def parse_rotation_value(value: str) -> RotationRef | None:
    if len(value) > VALUE_MAX:
        return None
    try:
        data = json.loads(value)
        app, name, stamp = str(data["u"]), str(data["k"]), int(data["e"])
        expiration = datetime.fromtimestamp(stamp, UTC)
    except (ValueError, KeyError, TypeError, OverflowError, OSError, AttributeError):
        return None
    if not app or not name or len(app) > 255 or len(name) > 255:
        return None
    return RotationRef(app, name, expiration)


def _md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def whose(app_user_id: str, kind: str) -> str:
    if kind == "bot":
        return "The bot's own DataOS key"
    return f"The DataOS API key of application user `{shown(app_user_id, 120)}`"


def rotate_now_button(app_user_id: str, name: str, expiration: datetime) -> dict[str, Any]:
    return {"type": "button", "action_id": ROTATE_NOW_ACTION, "text": _plain("Rotate now"),
            "value": rotation_value(app_user_id, name, expiration),
            "confirm": {"title": _plain("Rotate this key now?"),
                        "text": _md(f"A new key replaces *{shown(name, 80)}* in the store; the old one is revoked "
                                    "after the grace."),
                        "confirm": _plain("Rotate"), "deny": _plain("Not now")}}


def announcement(app_user_id: str, kind: str, *, target: str, version: int, new_name: str,
                 new_expiration: datetime, old_name: str, revoke_at: datetime, now: datetime,
                 revoked: str | None = None) -> Message:
    """In the team channel (the audit channel for the bot's own key): which key, where, which version, valid
    until when, and when the old key stops. `revoked`: what became of the old key, once it has."""
    head = (f":arrows_counterclockwise: {whose(app_user_id, kind)} was rotated: *{shown(new_name, 120)}* is "
            f"version {version} of `{shown(target, 200)}`, valid until {slack_date(new_expiration)}.")
    if revoked is not None:
        tail = f"The old key *{shown(old_name, 120)}* {revoked}"
    elif revoke_at <= now:
        tail = f"The old key *{shown(old_name, 120)}* is revoked now."
    else:
        tail = (f"The old key *{shown(old_name, 120)}* stops working {slack_date(revoke_at)} "
                f"({relative(revoke_at, now)}); whatever reads the store picks up the new version before then.")
    return Message(f"{shown(new_name, 120)} is version {version} of {shown(target, 200)}",
                   [{"type": "section", "text": _md(f"{head}\n{tail}")}])


def failure_message(app_user_id: str, kind: str, *, target: str, reason: str, old_name: str,
                    old_expiration: datetime, owners: str | None, successor: str) -> Message:
    """One channel message when a rotation gave up: what happened, that the old key still works, and (for
    a team) Retry and Renew by hand, which its owners only may press."""
    text = (f":warning: {whose(app_user_id, kind)} could not be rotated into `{shown(target, 200)}`: "
            f"{shown(reason, 1200)}\n*{shown(old_name, 120)}* still works until {slack_date(old_expiration)}. "
            f"{successor}")
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _md(text)}]
    value = rotation_value(app_user_id, old_name, old_expiration)
    elements = [{"type": "button", "action_id": RETRY_ACTION, "text": _plain("Retry"), "style": "primary",
                 "value": value}]
    if kind == "team":
        elements.append({"type": "button", "action_id": RENEW_BY_HAND_ACTION, "text": _plain("Renew by hand"),
                         "value": value})
    blocks.append({"type": "actions", "block_id": "rotation_failed", "elements": elements})
    who = f"Owners: {owners}. Only they can use these buttons." if owners else "Only platform admins can retry."
    blocks.append({"type": "context", "elements": [_md(f"{who} The usual expiry reminders are back on.")]})
    return Message(f"The rotation of {shown(app_user_id, 120)}'s key failed", blocks)


def old_key_stuck_message(app_user_id: str, kind: str, *, old_name: str, old_expiration: datetime, new_name: str,
                          revoke_at: datetime, reason: str, attempts: int) -> Message:
    """After a rotation, the old key's revoke keeps failing: the exact old key (name and expiry), that it still
    works, and Revoke now (owners and admins, the key checked again first)."""
    text = (f":warning: {whose(app_user_id, kind)} was rotated to *{shown(new_name, 120)}*, and the old key "
            f"*{shown(old_name, 120)}* (expires {slack_date(old_expiration)}) was to stop working "
            f"{slack_date(revoke_at)}, but the bot could not revoke it: DataOS refused {attempts} times (last: "
            f"{shown(reason, 300)}). *The old key still works* until it is revoked or expires. The bot keeps trying "
            "every 10 minutes; Revoke now does it at once.")
    blocks = [{"type": "section", "block_id": "rotation_old_key", "text": _md(text)},
              *(b.to_dict() for b in revoke_now_blocks(app_user_id, old_name, old_expiration))]
    return Message(f"The old key {shown(old_name, 120)} of {shown(app_user_id, 120)} was not revoked; it still works",
                   blocks)


def failure_done_message(app_user_id: str, kind: str, target: str, outcome: str) -> Message:
    """The failure message once someone pressed a button (no button left to press twice)."""
    text = f"{whose(app_user_id, kind)} (rotation into `{shown(target, 200)}`): {outcome}"
    return Message(f"Rotation of {shown(app_user_id, 120)}: {outcome}", [{"type": "section", "text": _md(text)}])


def admin_failure_message(app_user_id: str, kind: str, target: str, reason: str, channel: str | None, *,
                          by_dm: bool = False, shared: str | None = None) -> Message:
    """`channel`: where the owners were told; `by_dm`: each by DM instead, as `shared` (their team channel) is
    shared with another organisation."""
    where = f" Its owners were told in <#{channel}>." if channel else ""
    if by_dm:
        because = f" (<#{shared}> is shared with another organisation)" if shared else ""
        where = f" Its owners were told by DM{because}."
    text = (f":warning: Rotation failed for `{shown(app_user_id, 120)}` into `{shown(target, 200)}`: "
            f"{shown(reason, 1200)}{where}")
    return Message(f"Rotation failed for {shown(app_user_id, 120)}", [{"type": "section", "text": _md(text)}])


def schedule_words(*, target: str, every_hours: int | None, before_hours: int, grace_seconds: int,
                   state: str, next_at: datetime | None, last_error: str | None) -> str:
    """`rotates into vault:…#apikey every 30 days, 7 days before expiry, grace 1 hour; next rotation …`"""
    every = humanize_hours(every_hours) if every_hours else "the current key's validity"
    words = (f"rotates into `{shown(target, 200)}` every {every}, {humanize_hours(before_hours)} before expiry, "
             f"grace {describe_grace(timedelta(seconds=grace_seconds))}")
    if state == "failed":
        return f"{words}; :warning: the last rotation failed ({shown(last_error or 'no reason recorded', 300)})"
    if next_at is not None:
        return f"{words}; next rotation {slack_date(next_at)}"
    return words


def rotates_on_words(when: datetime) -> str:
    """What a rotating team's reminder says instead of asking for a renew: "on Nov 27, 2026 at 14:05" in each
    reader's zone (`slack_day`: after "on", Slack's "today"/"tomorrow" would read "on tomorrow at")."""
    return f"It rotates automatically {slack_day(when)}: nothing to do."
