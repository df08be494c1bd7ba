"""Reminders exactly once under ordinary faults: database blips, Slack answers lost or refused, slow
passes, long names. DMs are counted where people would see them: at the Slack fake."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.summary import SweepFailed
from bot.reminders.sweep import Sweeper
from tests.conftest import FakeClock
from tests.fakes.flaky_store import FlakyStore
from tests.integration.runtimes import WED_1430, runtime
from tests.integration.test_sweep import dms
from tests.repositories import Repositories

H = timedelta(hours=1)
D = timedelta(days=1)


def people(heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, count: int, *,
           name: str = "main") -> None:
    for i in range(count):
        heimdall.add_user(f"p{i:03d}", f"p{i:03d}@example.com")
        slack.add_user(f"UP{i:03d}", f"p{i:03d}@example.com", tz="UTC", tz_offset=0)
        heimdall.add_token(f"p{i:03d}", name, expiration=clock.now() + 20 * H)


def flaky(rt: Runtime) -> FlakyStore:
    return FlakyStore().install(rt)


def twice(slack: SlackFake) -> list[tuple[str, str]]:
    """(person, key) pairs that reached someone more than once: what the promise forbids."""
    return [pair for pair, n in Counter(dms(slack)).items() if n > 1]


async def test_a_database_blip_while_outcomes_are_recorded_sends_nobody_anything_twice(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path, store: Repositories,
) -> None:
    people(heimdall, slack, clock, 6)
    db = flaky(rt)
    db.fail("finish_reminders", "before", times=2)  # the blip: two writes refused, the third goes in
    first = await Sweeper(rt, worker="one").run("discovery")
    clock.advance(minutes=11)  # past the claims' lease: another replica
    other = runtime(store, heimdall, slack, clock, tmp_path)
    await Sweeper(other, worker="two").run("discovery")
    assert len(dms(slack)) == 6 and twice(slack) == []
    assert first.sent == 6 and not rt.outcomes.pending
    assert {r["state"] for r in await store.ledger.ledger()} == {"sent"}
    await other.aclose()


async def test_outcomes_the_database_never_took_during_the_pass_are_written_at_exit(
    store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
) -> None:
    clock._now = WED_1430
    people(heimdall, slack, clock, 6)
    rt = runtime(store, heimdall, slack, clock, tmp_path)
    db = flaky(rt)
    db.chooser = lambda name: "before" if name == "finish_reminders" else None  # down for the whole pass
    summary = await Sweeper(rt, worker="one").run("discovery")
    pending = len(getattr(getattr(rt, "outcomes", None), "pending", ()))
    db.heal()
    await rt.aclose()  # the process exits: what is pending is written first
    clock.advance(minutes=11)
    other = runtime(store, heimdall, slack, clock, tmp_path)
    await Sweeper(other, worker="two").run("discovery")
    assert len(dms(slack)) == 6 and twice(slack) == []
    assert summary.sent >= 1 and pending == summary.sent and not rt.outcomes.pending
    assert any("could not be recorded yet" in f for f in summary.failures)
    await other.aclose()


async def test_a_pass_after_a_long_outage_writes_earlier_outcomes_before_sending_anything(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, store: Repositories,
) -> None:
    people(heimdall, slack, clock, 3)
    db = flaky(rt)
    db.chooser = lambda name: "before" if name == "finish_reminders" else None  # down until healed
    first = await Sweeper(rt).run("discovery")
    assert first.sent >= 1 and len(rt.outcomes.pending) == first.sent
    with pytest.raises(SweepFailed, match="earlier reminder outcome"):
        await Sweeper(rt).run("tick")  # still down: nothing new is claimed
    db.heal()
    clock.advance(minutes=11)
    await Sweeper(rt).run("discovery")
    assert len(dms(slack)) == 3 and twice(slack) == [] and not rt.outcomes.pending


async def test_a_lost_answer_is_recorded_as_unknown_and_the_siblings_as_sent(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
) -> None:
    people(heimdall, slack, clock, 12)
    slack.lose_answer("chat.postMessage")  # Slack takes the first DM; its answer never arrives
    first = await Sweeper(rt).run("discovery")
    clock.advance(minutes=11)
    again = await Sweeper(rt).run("discovery")
    assert len(dms(slack)) == 12 and twice(slack) == []  # everyone once, including the one whose answer was lost
    assert again.sent == 0
    assert (first.sent, first.unknown, first.failures) == (11, 1, [])
    assert "outcome unknown (Slack may have them; never sent twice): 1" in first.lines()
    assert Counter(r["state"] for r in await rt.ledger.ledger()) == {"sent": 11, "unknown": 1}


async def test_claims_carry_their_own_time_so_a_slow_pass_keeps_them(
    pg_engines: tuple[Repositories, Repositories], heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
    tmp_path: Path,
) -> None:
    clock._now = WED_1430
    people(heimdall, slack, clock, 1)
    one = runtime(pg_engines[0], heimdall, slack, clock, tmp_path)
    two = runtime(pg_engines[1], heimdall, slack, clock, tmp_path)
    # DataOS is slow: listing p000's keys takes 11 minutes (longer than the claims' lease)
    heimdall.observer = lambda call: clock.advance(minutes=11) if "/users/p000/tokens" in call.path else None
    slack.hold("chat.postMessage", times=1)  # and Slack takes its time with the DM
    slow = asyncio.create_task(Sweeper(one, worker="slow").run("discovery"))
    await asyncio.to_thread(slack.wait_for, "held:chat.postMessage", 1)
    heimdall.observer = None
    clock.advance(minutes=1)
    other = await Sweeper(two, worker="other").run("discovery")  # while the slow pass is sending
    slack.release()
    assert (await slow).sent == 1
    assert dms(slack) == [("UP000", "main")]
    assert other.sent == 0 and other.skipped["claimed by another sweep"] == 1
    await one.aclose()
    await two.aclose()


@pytest.mark.parametrize("error", ["user_not_found", "messages_tab_disabled", "cannot_dm_bot"])
async def test_a_permanent_refusal_marks_the_step_undeliverable_and_the_next_step_tries_again(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, error: str,
) -> None:
    heimdall.add_token("alice", "weekly", expiration=clock.now() + 6 * D)  # the 7-day step is due
    slack.fail("chat.postMessage", error)
    first = await Sweeper(rt).run("discovery")
    later = []
    for _ in range(3):  # every tick after: not tried again, nothing to report
        clock.advance(minutes=15)
        later.append(await Sweeper(rt).run("tick"))
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert first.failures == [] and first.undeliverable == Counter({error: 1})
    assert f"undeliverable (not tried again before the next step): 1 (1 {error})" in first.lines()
    assert [(s.failures, s.undeliverable) for s in later] == [([], Counter())] * 3
    clock.advance(hours=137, minutes=45)  # Tuesday 10:00 in Berlin, under a day left: the 1-day step
    await Sweeper(rt).run("tick")
    assert dms(slack) == [("U0ALICE", "weekly")]
    assert sorted((r["step"], r["state"], r["error"]) for r in await rt.ledger.ledger()) == [
        ("1d", "sent", None), ("7d", "undeliverable", error)]


async def test_account_inactive_of_the_recipient_is_theirs_not_the_bots(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
) -> None:
    heimdall.add_token("alice", "a", expiration=clock.now() + 20 * H)
    heimdall.add_token("bob", "b", expiration=clock.now() + 20 * H)
    slack.fail("chat.postMessage", "account_inactive")  # auth.test still takes the token
    summary = await Sweeper(rt).run("discovery")
    clock.advance(minutes=15)
    await Sweeper(rt).run("tick")
    assert sorted(dms(slack)) == [("U0BOB", "b")] and len(slack.calls_to("chat.postMessage")) == 2
    assert summary.undeliverable == Counter({"account_inactive": 1}) and summary.sent == 1
    assert rt.slack_stopped is None


async def test_a_token_wide_refusal_stops_the_pass_at_once_with_one_error(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, caplog: Any,
) -> None:
    people(heimdall, slack, clock, 30)
    slack.fail("chat.postMessage", "token_revoked", times=100)
    with contextlib.suppress(SweepFailed):
        await Sweeper(rt).run("discovery")
    # one DM tried per sender at most, not thirty
    assert len(slack.calls_to("chat.postMessage")) <= rt.settings.sweep_concurrency < 30
    assert "token_revoked" in str(getattr(rt, "slack_stopped", None))
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "token_revoked" in errors[0].getMessage()
    checks = await rt.readiness()
    assert checks["slack_token"].startswith("refused") and "token_revoked" in checks["slack_token"]
    with pytest.raises(SweepFailed, match="refuses the bot's token"):
        await Sweeper(rt).run("tick")
    assert {r["state"] for r in await rt.ledger.ledger()} <= {"failed"}  # nothing was sent: tried again later


async def test_a_key_name_longer_than_255_characters_is_reminded(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
) -> None:
    long_name = "k" + "_very_long" * 60  # 601 characters, made in the DataOS UI
    heimdall.add_token("alice", long_name, expiration=clock.now() + 20 * H)
    heimdall.add_token("bob", "short", expiration=clock.now() + 20 * H)
    summary = await Sweeper(rt).run("discovery")
    assert summary.failures == [] and summary.sent == 2
    assert sorted(person for person, _ in dms(slack)) == ["U0ALICE", "U0BOB"]
    assert {r["key_name"] for r in await rt.ledger.ledger()} == {long_name, "short"}  # exact, not cut
    await Sweeper(rt).run("discovery")
    assert len(dms(slack)) == 2


async def test_concurrent_claims_in_opposite_orders_do_not_deadlock(pg_engines: tuple[Repositories, Repositories],
                                                                   clock: FakeClock) -> None:
    now = WED_1430
    keys = [((f"u{i:03d}", "k", now + D), "1d", f"U{i:03d}") for i in range(300)]
    for round_ in range(5):
        wanted = [(k, f"{s}-{round_}", u) for k, s, u in keys]
        one, two = await asyncio.gather(
            pg_engines[0].ledger.claim_reminders(wanted, now=now, worker="a", lease=timedelta(minutes=10)),
            pg_engines[1].ledger.claim_reminders(list(reversed(wanted)), now=now, worker="b",
                                                 lease=timedelta(minutes=10)))
        assert len(one) + len(two) == 300 and not set(one) & set(two)


async def test_a_failed_discovery_with_the_database_down_is_due_again_within_the_lease(
    rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
) -> None:
    await Sweeper(rt).run("auto")  # the first pass is a discovery
    clock.advance(hours=7)  # the next one is due
    db = flaky(rt)
    heimdall.fail_next(50, 503, match="/users")  # the directory fails the discovery...
    db.fail("set_mark", "before", times=5)  # ...and the database is down when it says "due again"
    with pytest.raises(SweepFailed):
        await Sweeper(rt).run("auto")
    heimdall.faults.clear()
    db.heal()
    clock.advance(minutes=61)
    assert (await Sweeper(rt).run("auto")).kind == "discovery"  # not 6 hours of ticks on a stale record


async def test_a_batch_held_up_renews_its_claims_before_posting_more(
    pg_engines: tuple[Repositories, Repositories], heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
    tmp_path: Path,
) -> None:
    clock._now = WED_1430
    for name in ("a", "b", "c"):  # one person, three keys: one batch
        heimdall.add_token("alice", name, expiration=clock.now() + 20 * H)
    one = runtime(pg_engines[0], heimdall, slack, clock, tmp_path, sweep_concurrency=1)
    two = runtime(pg_engines[1], heimdall, slack, clock, tmp_path)
    # each DM takes Slack 6 minutes (long 429 waits, say), and the second one hangs
    slack.recorded = lambda call: clock.advance(minutes=6) if call.method == "chat.postMessage" else None  # type: ignore[method-assign]
    slack.hold("chat.postMessage", times=1, after=1)
    slow = asyncio.create_task(Sweeper(one, worker="slow").run("discovery"))
    await asyncio.to_thread(slack.wait_for, "held:chat.postMessage", 1)
    clock.advance(minutes=6)  # 12 minutes after the batch was claimed, 6 after it was renewed
    await Sweeper(two, worker="other").run("discovery")
    slack.release()
    await slow
    assert sorted(name for _, name in dms(slack)) == ["a", "b", "c"]
    await one.aclose()
    await two.aclose()
