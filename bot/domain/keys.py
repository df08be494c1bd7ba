"""API keys as the bot sees them: names, status, masking, relative times."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

#: DataOS's UI allows letters, digits and underscore; the limit keeps names readable in Slack.
NAME_MAX_LENGTH = 64
_NAME = re.compile(r"^[A-Za-z0-9_]+$")
EXPIRING_SOON = timedelta(days=7)


class InvalidKeyName(ValueError):
    """The name breaks DataOS's rules; the message is fit for a user."""


def validate_key_name(name: str | None) -> str | None:
    """Return the stripped name, None for empty (DataOS then picks one), or raise InvalidKeyName."""
    if name is None:
        return None
    name = name.strip()
    if not name:
        return None
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidKeyName(f"A key name can be at most {NAME_MAX_LENGTH} characters long.")
    if not _NAME.match(name) or not name.isascii():
        raise InvalidKeyName(f"A key name may contain only letters, digits and underscores, not {_offending(name)}.")
    return name


def _offending(name: str) -> str:
    """`ci-loader v2` -> `spaces or “-”`: what to take out, in the person's own characters."""
    bad = list(dict.fromkeys(c for c in name if not (c.isascii() and (c.isalnum() or c == "_"))))
    words = (["spaces"] if any(c.isspace() for c in bad) else []) + [f"“{c}”" for c in bad if not c.isspace()][:3]
    return " or ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


#: The description of a key the bot creates: machine-readable (a Slack id, shown as a mention), and
#: meaningful in DataOS's own UI.
_CREATED_BY = re.compile(r"^created from Slack by ([UW][A-Z0-9]{2,31})$")


def created_by_description(slack_user_id: str) -> str:
    return f"created from Slack by {slack_user_id}"


def created_by(description: str) -> str | None:
    """The Slack user a key's description says created it, if the bot wrote that description."""
    match = _CREATED_BY.match(description)
    return match.group(1) if match else None


#: Longest key name a button value, option value or metadata field carries as is (Slack: 150 for options).
REF_MAX_NAME = 150
REF_PREFIX = "#"


def key_ref(name: str, limit: int = REF_MAX_NAME) -> str:
    """How a button, option or form names a key: the name itself, or for a name longer than `limit`
    (Slack's value limits) a digest of it, which the listener resolves by listing the owner's keys."""
    if len(name) <= limit and not name.startswith(REF_PREFIX):
        return name
    return key_digest(name)


def key_digest(name: str) -> str:
    """The digest form of `key_ref`, whatever the name's length (41 characters)."""
    return REF_PREFIX + hashlib.sha256(name.encode()).hexdigest()[:40]


#: Hex digits of `exact_digest`: 48 bits tell apart the keys of one DataOS user.
EXACT_DIGEST_LENGTH = 12


def exact_digest(name: str, expiration: datetime) -> str:
    """One exact key (name AND expiration, to the second) in a few characters, for a button that names
    many keys: a key made again under the same name expires at another time, so has another digest."""
    text = f"{name}\0{int(expiration.timestamp())}"
    return hashlib.sha256(text.encode()).hexdigest()[:EXACT_DIGEST_LENGTH]


def is_ref(value: str) -> bool:
    return value.startswith(REF_PREFIX)


class KeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRING_SOON = "expiring soon"
    EXPIRED = "expired"


def key_status(expiration: datetime, now: datetime) -> KeyStatus:
    if expiration <= now:
        return KeyStatus.EXPIRED
    if expiration - now <= EXPIRING_SOON:
        return KeyStatus.EXPIRING_SOON
    return KeyStatus.ACTIVE


def mask_secret(secret: str) -> str:
    """`dG9r…YQ==`: enough to tell keys apart, never enough to use one."""
    if len(secret) < 12:
        return "…"
    return f"{secret[:4]}…{secret[-4:]}"


def relative(expiration: datetime, now: datetime) -> str:
    """`in 3 days`, `in 5 hours`, `2 days ago`: coarse on purpose."""
    delta = expiration - now
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        amount, unit = max(1, round(seconds / 60)), "minute"
    elif seconds < 48 * 3600:
        amount, unit = round(seconds / 3600), "hour"
    else:
        amount, unit = round(seconds / 86400), "day"
    text = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"in {text}" if delta.total_seconds() >= 0 else f"{text} ago"


@dataclass(frozen=True)
class KeyInfo:
    """A key without its secret: what lists, reminders and the audit log work with."""

    name: str
    expiration: datetime
    masked: str
    description: str | None = None
