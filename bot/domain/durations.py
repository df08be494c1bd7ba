"""Validity durations: what people type (`30d`, `2w`, `36h`) and what DataOS accepts (whole hours).

DataOS parses durations with Go's parser, which has no day unit: always send `<hours>h`.
"""

from __future__ import annotations

import re

_UNITS = {"h": 1, "d": 24, "w": 24 * 7}
# Any number of digits: `9999999999999999999d` is a validity, only far too long (DurationTooLong).
_DURATION = re.compile(r"^\s*([0-9]+)\s*(h|hours?|d|days?|w|weeks?)?\s*$", re.IGNORECASE)
#: No duration anyone means is longer (and datetime arithmetic stays far from overflowing).
MAX_AMOUNT = 999_999


class InvalidDuration(ValueError):
    """The text is not a duration we understand; the message is fit for a user."""


class DurationTooLong(InvalidDuration):
    """A duration, but beyond any sensible length; the validity policy names its own maximum instead."""


def parse_duration_hours(text: str) -> int:
    """Parse `36h`, `30d`, `2w` or a bare number of days into whole hours (> 0)."""
    match = _DURATION.match(text or "")
    if not match:
        raise InvalidDuration(f"“{text[:40]}” is not a validity; use hours, days or weeks, e.g. 36h, 30d or 2w.")
    digits = match.group(1).lstrip("0") or "0"
    if len(digits) > len(str(MAX_AMOUNT)) or int(digits) > MAX_AMOUNT:
        raise DurationTooLong(f"“{text.strip()[:40]}” is far too long; at most {MAX_AMOUNT} of a unit.")
    amount = int(digits)
    unit = (match.group(2) or "d")[0].lower()
    hours = amount * _UNITS[unit]
    if hours <= 0:
        raise InvalidDuration("A validity must be longer than zero.")
    return hours


def go_duration(hours: int) -> str:
    """The wire form DataOS expects: whole hours, Go style."""
    if hours <= 0:
        raise ValueError("duration must be positive")
    return f"{hours}h"


def humanize_hours(hours: int) -> str:
    """`720` -> `30 days`, `36` -> `36 hours`, `168` -> `7 days`, `8760` -> `365 days`."""
    if hours % 24 == 0:
        days = hours // 24
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{hours} hours"
