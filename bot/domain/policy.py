"""Validity policy: which durations a person may choose (presets, a default, a maximum)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.durations import DurationTooLong, InvalidDuration, humanize_hours, parse_duration_hours


@dataclass(frozen=True)
class ValidityPolicy:
    presets: tuple[int, ...]  # hours, shortest first, none above `maximum`
    default: int
    maximum: int
    #: Above this many hours a key needs someone's approval (a key policy, issue #28); None: never.
    approval_above: int | None = None

    def needs_approval(self, hours: int) -> bool:
        return self.approval_above is not None and hours > self.approval_above

    def check(self, hours: int) -> int:
        if hours > self.maximum:
            raise InvalidDuration(f"The longest validity allowed is {humanize_hours(self.maximum)}.")
        if hours < 1:
            raise InvalidDuration("A validity must be at least 1 hour.")
        return hours

    def parse(self, text: str) -> int:
        try:
            hours = parse_duration_hours(text)
        except DurationTooLong:
            hours = self.maximum + 1  # too long is too long: the same sentence, with the real limit
        return self.check(hours)
