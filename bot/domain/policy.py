"""Validity policy: which durations a person may choose (presets, a default, a maximum)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.durations import InvalidDuration, humanize_hours, parse_duration_hours


@dataclass(frozen=True)
class ValidityPolicy:
    presets: tuple[int, ...]  # hours, shortest first, none above `maximum`
    default: int
    maximum: int

    def check(self, hours: int) -> int:
        if hours > self.maximum:
            raise InvalidDuration(f"The longest validity allowed is {humanize_hours(self.maximum)}.")
        if hours < 1:
            raise InvalidDuration("A validity must be at least 1 hour.")
        return hours

    def parse(self, text: str) -> int:
        return self.check(parse_duration_hours(text))
