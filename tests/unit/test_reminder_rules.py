"""The reminder decisions: ladder, lifetimes, snooze and mute, working hours across time zones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.reminders import (
    KeyFacts,
    WorkingTime,
    due_step,
    may_send_now,
    parse_working_days,
    parse_working_hours,
    step_label,
    zone_for,
)

LADDER = [720, 168, 24]  # 30d, 7d, 1d
NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)  # a Wednesday
H = timedelta(hours=1)
D = timedelta(days=1)


def facts(remaining: timedelta, lifetime: timedelta | None, **kw: object) -> KeyFacts:
    return KeyFacts(NOW + remaining, lifetime, **kw)  # type: ignore[arg-type]


def test_24h_key_gets_no_reminder() -> None:
    for remaining in (23 * H, 12 * H, H):
        assert due_step(facts(remaining, 24 * H), NOW, LADDER, set()) is None


def test_7_day_key_gets_only_the_1_day_reminder() -> None:
    assert due_step(facts(6 * D, 7 * D), NOW, LADDER, set()) is None  # 7d step > half of 7 days
    assert due_step(facts(D, 7 * D), NOW, LADDER, set()) == "1d"
    assert due_step(facts(D - H, 7 * D), NOW, LADDER, {"1d"}) is None


def test_90_day_key_walks_the_whole_ladder_once_each() -> None:
    life = 90 * D
    assert due_step(facts(31 * D, life), NOW, LADDER, set()) is None
    assert due_step(facts(30 * D, life), NOW, LADDER, set()) == "30d"
    assert due_step(facts(20 * D, life), NOW, LADDER, {"30d"}) is None
    assert due_step(facts(7 * D, life), NOW, LADDER, {"30d"}) == "7d"
    assert due_step(facts(D, life), NOW, LADDER, {"30d", "7d"}) == "1d"
    assert due_step(facts(H, life), NOW, LADDER, {"30d", "7d", "1d"}) is None


def test_unknown_lifetime_gets_the_due_step_only() -> None:
    # found 20 hours before expiry at the owner's first sweep: the 1-day reminder, not three
    assert due_step(facts(20 * H, None), NOW, LADDER, set()) == "1d"
    assert due_step(facts(10 * D, None), NOW, LADDER, set()) == "30d"
    assert due_step(facts(40 * D, None), NOW, LADDER, set()) is None


def test_a_missed_run_catches_up_with_the_most_urgent_step() -> None:
    # the 7d run was missed (bot down); at 2 days left the 7d step is sent late, never skipped
    assert due_step(facts(2 * D, 60 * D), NOW, LADDER, {"30d"}) == "7d"


def test_expired_and_muted_keys_get_nothing() -> None:
    assert due_step(facts(-H, None), NOW, LADDER, set()) is None
    assert due_step(facts(H, None, muted=True), NOW, LADDER, set()) is None


def test_snooze_defers_then_reminds_again() -> None:
    until = NOW + 12 * H
    snoozed = facts(3 * D, 30 * D, snoozed_until=until)
    assert due_step(snoozed, NOW, LADDER, {"7d"}) is None
    later = NOW + 12 * H
    step = due_step(snoozed, later, LADDER, {"7d"})
    assert step == f"snooze-{int(until.timestamp())}"
    assert due_step(snoozed, later, LADDER, {"7d", step}) is None
    # a ladder step that fell due during the snooze is what is sent when it ends
    assert due_step(facts(20 * H, 30 * D, snoozed_until=until), later, LADDER, {"7d"}) == "1d"


def test_step_labels() -> None:
    assert [step_label(h) for h in (720, 168, 24, 36)] == ["30d", "7d", "1d", "36h"]


WORK = WorkingTime.parse("09:00-18:00", "mon-fri")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        ("2026-11-25T10:00", "Europe/Berlin", True),  # Wed 11:00 in Berlin
        ("2026-11-25T17:30", "Europe/Berlin", False),  # Wed 18:30 in Berlin
        ("2026-11-25T13:59", "America/New_York", False),  # Wed 08:59 in New York
        ("2026-11-25T14:00", "America/New_York", True),  # Wed 09:00 in New York
        ("2026-11-28T12:00", "Europe/Berlin", False),  # Saturday
        # east of UTC: Monday 09:00 in Auckland is Sunday 20:00 UTC, our previous calendar day
        ("2026-11-29T20:00", "Pacific/Auckland", True),
        ("2026-11-29T19:59", "Pacific/Auckland", False),
        # and Friday 18:00 in Auckland ends their week while it is still Friday morning in UTC
        ("2026-11-27T05:00", "Pacific/Auckland", False),
        ("2026-11-27T04:59", "Pacific/Auckland", True),
        ("2026-11-26T00:30", "Asia/Tokyo", True),  # Thu 09:30 in Tokyo, Wed night in UTC
    ],
)
def test_working_hours_in_the_owners_zone(now: str, tz: str, expected: bool) -> None:
    far = at(now) + 30 * D
    assert may_send_now(at(now), zone_for(tz), WORK, far) is expected


def test_outside_hours_but_expiring_before_next_window_sends_now() -> None:
    now = at("2026-11-28T12:00")  # Saturday noon in Berlin; next window Monday 08:00 UTC
    zone = zone_for("Europe/Berlin")
    assert may_send_now(now, zone, WORK, at("2026-11-30T07:59")) is True
    assert may_send_now(now, zone, WORK, at("2026-11-30T08:01")) is False
    assert WORK.next_start(now, zone) == at("2026-11-30T08:00")


def test_zone_falls_back_to_offset() -> None:
    zone = zone_for("Not/AZone", 19800)
    assert datetime(2026, 1, 1, tzinfo=UTC).astimezone(zone).utcoffset() == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("text", ["9-5", "18:00-09:00", "25:00-26:00", "09:00-09:00"])
def test_bad_working_hours(text: str) -> None:
    with pytest.raises(ValueError):
        parse_working_hours(text)


def test_working_days() -> None:
    assert parse_working_days("mon-fri") == frozenset(range(5))
    assert parse_working_days("sun-tue") == frozenset({6, 0, 1})
    assert parse_working_days("mon, wed") == frozenset({0, 2})
    with pytest.raises(ValueError):
        parse_working_days("funday")
    with pytest.raises(ValueError):
        parse_working_days("")
