"""Leak reports on SQLite and PostgreSQL: one report per paste window, each DM claimed once (also by two
replicas at the same moment), failed DMs tried again a bounded number of times, and retention."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.store.leaks import MAX_ATTEMPTS, LeakReports
from tests.repositories import Repositories

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
DAY = timedelta(days=1)


async def record(reports: LeakReports, now: datetime, channel: str = "C1", fp: str = "f" * 64) -> bool:
    report = await reports.record(fp, dataos_user_id="alice", key_name="etl", channel=channel, poster="U0BOB",
                                  message_ts="1.2", key_expiration=NOW + 30 * DAY, to_admins=False, now=now,
                                  within=DAY)
    return report.new


async def test_a_report_its_dms_and_its_window(store: Repositories) -> None:
    reports = LeakReports(store.engine)
    assert await record(reports, NOW) is True
    assert await reports.claim("f" * 64, ["U0ALICE", "U0ALICE2"], NOW) == ["U0ALICE", "U0ALICE2"]
    assert await reports.claim("f" * 64, ["U0ALICE", "U0ALICE2"], NOW) == []  # claimed: nobody sends it again
    await reports.finish("f" * 64, "U0ALICE", state="sent", now=NOW, channel="D0ALICE", ts="1700000001.000100")
    await reports.finish("f" * 64, "U0ALICE2", state="failed", now=NOW)
    assert [s.recipient for s in await reports.sent("f" * 64)] == ["U0ALICE"]
    assert await reports.retryable("f" * 64) == ["U0ALICE2"]
    for channel in ["C2", "C1"] * 3:
        assert await record(reports, NOW + timedelta(hours=20), channel) is False  # repeats keep the window
    [(report, waiting)] = await reports.failed(now=NOW + timedelta(hours=21), within=DAY)
    assert report.places == ["C2", "C1"] and report.times == 7 and waiting == ["U0ALICE2"]
    for _ in range(2, MAX_ATTEMPTS + 1):
        assert await reports.claim("f" * 64, ["U0ALICE2"], NOW) == ["U0ALICE2"]
        await reports.finish("f" * 64, "U0ALICE2", state="failed", now=NOW)
    assert await reports.claim("f" * 64, ["U0ALICE2"], NOW) == []  # tried MAX_ATTEMPTS times: no more
    assert await record(reports, NOW + DAY) is True  # a day after the first paste: news again, DMs afresh
    assert await reports.sent("f" * 64) == []
    assert await reports.claim("f" * 64, ["U0ALICE"], NOW + DAY) == ["U0ALICE"]
    assert await reports.prune(older_than=NOW + DAY) == 0  # last seen then: kept
    assert await reports.prune(older_than=NOW + DAY + timedelta(seconds=1)) == 1
    assert await reports.claim("f" * 64, ["U0ALICE"], NOW) == ["U0ALICE"]  # its DMs went with it


async def test_two_replicas_report_and_claim_once(pg_engines: tuple[Repositories, Repositories]) -> None:
    first, second = (LeakReports(s.engine) for s in pg_engines)
    news = await asyncio.gather(*(record(r, NOW) for r in (first, second) * 4))
    assert sorted(news) == [False] * 7 + [True]
    claims = await asyncio.gather(*(r.claim("f" * 64, ["U0ALICE"], NOW) for r in (first, second) * 4))
    assert sum(len(c) for c in claims) == 1
