"""The DataOS user directory past 1,000 people: DataOS answers one page of at most `limit` users (its SDKs
assume 1,000 when none is sent), so the bot always sends an explicit limit, and says so loudly when an
answer is exactly as long as the limit (people past it would never be matched)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bot.dataos import HeimdallClient
from bot.doctor import run_doctor
from bot.identity import DataOSDirectory
from bot.playground.heimdall import HeimdallEmulator, seed_people
from bot.playground.slack import SlackFake
from bot.store import create_engine, migrate
from tests.conftest import FakeClock
from tests.e2e.harness import make_settings


@pytest.fixture
def big(heimdall: HeimdallEmulator) -> HeimdallEmulator:
    seed_people(heimdall, 1200, domain="big.example.com")
    return heimdall


async def test_the_emulator_cuts_at_1000_without_a_limit_and_the_client_always_sends_one(
        big: HeimdallEmulator) -> None:
    async with httpx.AsyncClient() as plain:
        raw = await plain.get(f"{big.url}/api/v1/users", headers={"apikey": big.operator_key})  # type: ignore[attr-defined]
    assert len(raw.json()) == 1000  # what a client that sends no limit gets
    async with HeimdallClient(big.url, big.operator_key) as client:  # type: ignore[attr-defined]
        users = await client.list_users()
    assert len(users) == len(big.users) == 1204
    assert "limit=100000" in big.calls_to("GET", "/users")[-1].path


async def test_the_person_past_the_first_thousand_is_matched(big: HeimdallEmulator) -> None:
    async with HeimdallClient(big.url, big.operator_key) as client:  # type: ignore[attr-defined]
        directory = DataOSDirectory(client, ttl=600)
        found = await directory.by_email("USER01200@big.example.com")
        assert [u.id for u in found] == ["user01200"] and not directory.truncated


async def test_an_answer_as_long_as_the_limit_is_a_warning_and_a_doctor_failure(
        big: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    async with HeimdallClient(big.url, big.operator_key) as client:  # type: ignore[attr-defined]
        directory = DataOSDirectory(client, ttl=600, limit=1000)
        await directory.refresh()
    assert directory.truncated and directory.size == 1000
    assert any("DATAOS_USERS_LIMIT=1000" in r.getMessage() for r in caplog.records)
    db = tmp_path / "bot.db"
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    await migrate(engine)
    await engine.dispose()
    checks = {c.name: c for c in await run_doctor(make_settings(slack, big, str(db), dataos_users_limit=1000),
                                                  now=clock.now())}
    assert checks["DataOS user directory"].status == "fail"
    assert "raise DATAOS_USERS_LIMIT" in checks["DataOS user directory"].detail
