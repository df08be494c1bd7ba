"""Reminder decisions, as pure functions of a key, the ladder, the owner's working time and now.

The ladder is a list of steps before expiry (default 30d, 7d, 1d). A step applies to a key only if it
is at most half the key's lifetime, so a 24-hour key gets no reminder and a 7-day key gets the 1-day
one. A key whose lifetime is unknown (already there at its owner's first sweep) gets whichever step is
due. Of the due steps only the most urgent is sent: a key first seen 20 hours before expiry gets its
1-day reminder, not three messages.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.durations import humanize_hours

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_working_hours(text: str) -> tuple[time, time]:
    match = _RANGE.match(text or "")
    if not match:
        raise ValueError("expected a range such as 09:00-18:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError("expected times between 00:00 and 24:00")
    start = time(h1, m1)
    end = time.max if h2 == 24 else time(h2, m2)
    if end <= start:
        raise ValueError("the end of working hours must be after the start")
    return start, end


def parse_working_days(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in (text or "").lower().replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            first, _, last = part.partition("-")
            if first not in DAYS or last not in DAYS:
                raise ValueError(f"unknown day in {part!r}; use mon, tue, wed, thu, fri, sat, sun")
            i, j = DAYS.index(first), DAYS.index(last)
            days.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        elif part in DAYS:
            days.add(DAYS.index(part))
        else:
            raise ValueError(f"unknown day {part!r}; use mon, tue, wed, thu, fri, sat, sun")
    if not days:
        raise ValueError("at least one working day is needed")
    return frozenset(days)


@dataclass(frozen=True)
class WorkingTime:
    start: time
    end: time
    days: frozenset[int]  # 0 = Monday

    @classmethod
    def parse(cls, hours: str, days: str) -> WorkingTime:
        start, end = parse_working_hours(hours)
        return cls(start, end, parse_working_days(days))

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_start(self, now: datetime, zone: tzinfo) -> datetime:
        """The next moment (UTC) working time begins for someone in `zone`, after `now`."""
        local = now.astimezone(zone)
        for offset in range(0, 9):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            candidate = datetime.combine(day, self.start, tzinfo=zone)
            if candidate > local:
                return candidate.astimezone(UTC)
        raise AssertionError("a week always has a working day")


def zone_for(tz_name: str | None, tz_offset: int = 0) -> tzinfo:
    """The person's Slack time zone; their offset when the name is unknown here."""
    if tz_name:
        try:
            return ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return timezone(timedelta(seconds=tz_offset))


def may_send_now(now: datetime, zone: tzinfo, working: WorkingTime, expiration: datetime) -> bool:
    """In the owner's working time, or the key would expire before working time starts again."""
    if working.contains(now.astimezone(zone)):
        return True
    return expiration <= working.next_start(now, zone)


def step_label(hours: int) -> str:
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"


def step_words(step: str) -> str:
    """`7d` -> `7 days`; snooze steps -> `snoozed`."""
    if step.startswith("snooze-"):
        return "snoozed"
    unit = step[-1]
    amount = int(step[:-1])
    return humanize_hours(amount * 24 if unit == "d" else amount)


@dataclass(frozen=True)
class KeyFacts:
    expiration: datetime
    lifetime: timedelta | None  # None: unknown (the key was there at its owner's first sweep)
    muted: bool = False
    snoozed_until: datetime | None = None


def due_step(facts: KeyFacts, now: datetime, ladder_hours: Sequence[int], sent: Collection[str]) -> str | None:
    """The one reminder step to send now for this key, or None."""
    if facts.muted or facts.expiration <= now:
        return None
    if facts.snoozed_until is not None and now < facts.snoozed_until:
        return None
    remaining = facts.expiration - now
    applicable = [h for h in ladder_hours if facts.lifetime is None or timedelta(hours=h) * 2 <= facts.lifetime]
    due = [h for h in applicable if remaining <= timedelta(hours=h)]
    if due:
        step = step_label(min(due))
        if step not in sent:
            return step
    if facts.snoozed_until is not None:
        step = f"snooze-{int(facts.snoozed_until.timestamp())}"
        if step not in sent:
            return step
    return None
