from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.durations import InvalidDuration, go_duration, humanize_hours, parse_duration_hours
from bot.domain.keys import (
    InvalidKeyName,
    KeyStatus,
    key_status,
    mask_secret,
    relative,
    validate_key_name,
)

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "hours"),
    [("24h", 24), ("36 hours", 36), ("30d", 720), ("30", 720), ("2w", 336), ("1 day", 24), ("7D", 168)],
)
def test_parse_duration(text: str, hours: int) -> None:
    assert parse_duration_hours(text) == hours


@pytest.mark.parametrize("text", ["", "0d", "-3d", "1y", "30 days please", "1.5d", "9999999d", "١٢d"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(InvalidDuration):
        parse_duration_hours(text)


def test_go_duration_is_whole_hours_never_days() -> None:
    assert go_duration(720) == "720h"
    assert go_duration(24) == "24h"
    with pytest.raises(ValueError):
        go_duration(0)


def test_humanize() -> None:
    assert humanize_hours(24) == "1 day"
    assert humanize_hours(720) == "30 days"
    assert humanize_hours(36) == "36 hours"
    assert humanize_hours(1) == "1 hour"


@pytest.mark.parametrize("name", ["ci_loader", "A1", "x" * 64, "token_hopefully_loudly_striking_newt"])
def test_valid_names(name: str) -> None:
    assert validate_key_name(f"  {name} ") == name


@pytest.mark.parametrize("name", ["", "   ", None])
def test_empty_name_means_dataos_picks(name: str | None) -> None:
    assert validate_key_name(name) is None


@pytest.mark.parametrize(
    "name", ["ci-loader", "ci loader", "x" * 65, "drop;table", "ｃｉ", "café", "../etc", "a\u200bb", "ci\nx"]
)
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidKeyName):
        validate_key_name(name)


def test_status() -> None:
    assert key_status(NOW - timedelta(seconds=1), NOW) is KeyStatus.EXPIRED
    assert key_status(NOW + timedelta(days=3), NOW) is KeyStatus.EXPIRING_SOON
    assert key_status(NOW + timedelta(days=30), NOW) is KeyStatus.ACTIVE


def test_mask() -> None:
    assert mask_secret("dG9rZW5fYWJjLjEyMzQ1Njc4YQ==") == "dG9r…YQ=="
    assert mask_secret("short") == "…"


def test_relative() -> None:
    assert relative(NOW + timedelta(days=3), NOW) == "in 3 days"
    assert relative(NOW + timedelta(hours=5), NOW) == "in 5 hours"
    assert relative(NOW - timedelta(days=2), NOW) == "2 days ago"
    assert relative(NOW + timedelta(minutes=1), NOW) == "in 1 minute"
