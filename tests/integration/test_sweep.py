"""The reminder sweep against the Heimdall emulator, the Slack fake and both databases."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.summary import SweepSummary
from bot.reminders.sweep import Sweeper
from tests.conftest import FakeClock
from tests.integration.runtimes import WED_1430, runtime
from tests.repositories import Repositories

H = timedelta(hours=1)
D = timedelta(days=1)



async def sweep(rt: Runtime) -> SweepSummary:
    """A discovery: these tests are about the reminder rules over every key (ticks: test_incremental_sweep)."""
    return await Sweeper(rt).run("discovery")


def dms(slack: SlackFake) -> list[tuple[str, str]]:
    """(recipient, key name) of every reminder DM people actually received."""
    out = []
    for call in slack.delivered("chat.postMessage"):
        actions = [b for b in call.params["blocks"] if b["type"] == "actions"]
        name = json.loads(actions[0]["elements"][0]["value"])["k"] if actions else "(bot key)"
        out.append((call.params["channel"], name))
    return out


async def test_first_sweep_sends_due_step_once(rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake,
                                               clock: FakeClock) -> None:
    soon = heimdall.add_token("alice", "soon", expiration=clock.now() + 20 * H)
    heimdall.add_token("alice", "later", expiration=clock.now() + 10 * D)
    heimdall.add_token("alice", "far", expiration=clock.now() + 40 * D)
    heimdall.add_token("bob", "bobs", expiration=clock.now() + 20 * H)
    heimdall.add_token("alice", "dead", expiration=clock.now() - H)
    summary = await sweep(rt)
    assert sorted(dms(slack)) == [("U0ALICE", "later"), ("U0ALICE", "soon"), ("U0BOB", "bobs")]
    assert (summary.users_checked, summary.keys_seen, summary.sent) == (3, 4, 3)
    assert summary.skipped == Counter({"not due": 1})
    assert summary.failures == []
    message = next(c for c in slack.delivered("chat.postMessage") if "soon" in json.dumps(c.params))
    text = json.dumps(message.params, ensure_ascii=False)
    assert soon.apikey not in text
    assert f"<!date^{int(soon.expiration.timestamp())}^" in text and "The reminder 1 day before expiry" in text
    buttons = [e["action_id"] for b in message.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    # no "Remind me in 1 day" for a key that expires within the day: it would remind after the expiry
    assert buttons == ["reminder_renew", "reminder_revoke", "reminder_mute"]
    ledger = {(r["key_name"], r["step"]): r for r in await rt.ledger.ledger()}
    assert set(ledger) == {("soon", "1d"), ("later", "30d"), ("bobs", "1d")}
    assert ledger["soon", "1d"]["state"] == "sent" and ledger["soon", "1d"]["channel"] == "D0ALICE"
    assert ledger["soon", "1d"]["ts"]
    again = await sweep(rt)
    assert again.sent == 0 and len(dms(slack)) == 3


async def test_lifetimes_known_unknown_and_first_seen(rt: Runtime, store: Repositories, heimdall: HeimdallEmulator,
                                                      slack: SlackFake, clock: FakeClock) -> None:
    await sweep(rt)  # alice's first sweep: she has no keys yet
    # made by the bot: lifetime known exactly
    for name, hours in (("day_key", 24), ("week_key", 24 * 7)):
        token = heimdall.add_token("alice", name, hours=hours)
        await store.sightings.note_key_created("alice", name, token.expiration, clock.now())
    # made elsewhere (UI, CLI) after her first sweep: lifetime taken from this sweep
    heimdall.add_token("alice", "ui_key", hours=24 * 3)
    await sweep(rt)
    assert dms(slack) == []
    clock.advance(hours=2 * 24 + 1)  # Friday 15:30 UTC: under a day left on ui_key, five on week_key
    await sweep(rt)
    assert dms(slack) == [("U0ALICE", "ui_key")]  # 3-day key: its 1-day step, never the 7-day one
    clock.advance(hours=4 * 24)  # Tuesday 15:30 UTC: under a day left on week_key
    await sweep(rt)
    assert sorted(dms(slack)) == [("U0ALICE", "ui_key"), ("U0ALICE", "week_key")]  # never day_key, never 7d


async def test_working_hours_wait_unless_expiry_comes_first(rt: Runtime, heimdall: HeimdallEmulator,
                                                            slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("carol", "tokyo_key", expiration=clock.now() + 5 * D)  # Tokyo is at 23:30
    heimdall.add_token("carol", "urgent", expiration=clock.now() + 2 * H)  # gone before Tokyo's morning
    summary = await sweep(rt)
    assert dms(slack) == [("U0CAROL", "urgent")]
    assert summary.skipped["outside working hours"] == 1
    clock.advance(hours=10)  # Thursday 00:30 UTC, 09:30 in Tokyo
    await sweep(rt)
    assert dms(slack) == [("U0CAROL", "urgent"), ("U0CAROL", "tokyo_key")]


async def test_reminders_off_and_active_audience(store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake,
                                                 clock: FakeClock, tmp_path: Path) -> None:
    clock._now = WED_1430
    heimdall.add_token("alice", "a", expiration=clock.now() + 20 * H)
    heimdall.add_token("bob", "b", expiration=clock.now() + 20 * H)
    await store.prefs.set_reminders_enabled("U0ALICE", False, clock.now())
    rt = runtime(store, heimdall, slack, clock, tmp_path)
    await sweep(rt)
    assert dms(slack) == [("U0BOB", "b")]
    rt2 = runtime(store, heimdall, slack, clock, tmp_path, reminder_audience="active")
    await store.prefs.set_reminders_enabled("U0ALICE", True, clock.now())
    heimdall.add_token("bob", "b2", expiration=clock.now() + 20 * H)
    await sweep(rt2)  # only people who used the bot: alice (she toggled reminders); not bob
    assert dms(slack) == [("U0BOB", "b"), ("U0ALICE", "a")]
    await rt.aclose()
    await rt2.aclose()


async def test_explicit_link_wins_over_email(rt: Runtime, store: Repositories, heimdall: HeimdallEmulator,
                                             slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("carol", "c", expiration=clock.now() + 20 * H)
    await store.links.set_link("U0DAVE", "carol", method="admin", linked_by="U0ADMIN", now=clock.now())
    await sweep(rt)
    assert dms(slack) == [("U0DAVE", "c")]


async def test_slack_rate_limit_is_waited_out_without_duplicates(rt: Runtime, heimdall: HeimdallEmulator,
                                                                 slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("alice", "k", expiration=clock.now() + 20 * H)
    slack.fail("chat.postMessage", "ratelimited", status=429, retry_after=1)
    summary = await sweep(rt)
    assert summary.sent == 1 and summary.failures == []
    assert dms(slack) == [("U0ALICE", "k")]
    assert [c.result.get("ok") for c in slack.calls_to("chat.postMessage")] == [False, True]


async def test_slack_refusal_is_retried_after_a_back_off(rt: Runtime, heimdall: HeimdallEmulator,
                                                          slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("alice", "k", expiration=clock.now() + 20 * H)
    slack.fail("chat.postMessage", "service_unavailable")  # answered: nothing was posted
    first = await sweep(rt)
    assert first.sent == 0 and len(first.failures) == 1 and "service_unavailable" in first.failures[0]
    assert [(r["state"], r["error"]) for r in await rt.ledger.ledger()] == [("failed", "service_unavailable")]
    clock.advance(minutes=1)
    assert (await sweep(rt)).sent == 0  # backing off: not every tick
    clock.advance(minutes=5)
    second = await sweep(rt)
    assert second.sent == 1 and dms(slack) == [("U0ALICE", "k")]
    assert [(r["state"], r["attempts"]) for r in await rt.ledger.ledger()] == [("sent", 2)]


async def test_slack_error_that_may_have_posted_is_never_repeated(rt: Runtime, heimdall: HeimdallEmulator,
                                                                 slack: SlackFake, clock: FakeClock) -> None:
    """Slack says of `internal_error`: "it's possible some aspect of the operation succeeded"."""
    heimdall.add_token("alice", "k", expiration=clock.now() + 20 * H)
    slack.fail("chat.postMessage", "internal_error")
    first = await sweep(rt)
    assert (first.sent, first.unknown, first.failures) == (0, 1, [])
    assert [(r["state"], r["error"]) for r in await rt.ledger.ledger()] == [("unknown", "internal_error")]
    clock.advance(hours=1)
    await sweep(rt)
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_dataos_failure_for_one_user_spares_the_others(rt: Runtime, heimdall: HeimdallEmulator,
                                                             slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("alice", "a", expiration=clock.now() + 20 * H)
    heimdall.add_token("bob", "b", expiration=clock.now() + 20 * H)
    heimdall.fail_next(10, 503, match="/users/alice/tokens")
    summary = await sweep(rt)
    assert dms(slack) == [("U0BOB", "b")]
    assert len(summary.failures) == 1 and summary.failures[0].startswith("alice:")
    heimdall.faults.clear()
    await sweep(rt)
    assert sorted(dms(slack)) == [("U0ALICE", "a"), ("U0BOB", "b")]


async def test_summary_lines() -> None:
    s = SweepSummary(users_checked=2, keys_seen=5, sent=1, skipped=Counter({"not due": 4}),
                     failures=["x: boom"], seconds=1.25)
    assert s.lines() == ["kind: tick (0 owners with a key due)",
                         "users checked: 2", "keys seen: 5", "reminders sent: 1", "skipped: 4 not due",
                         "failures: 1", "  - x: boom", "took 1.2 s"]


async def test_bot_key_watch_warns_admins(store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake,
                                          clock: FakeClock, tmp_path: Path) -> None:
    clock._now = WED_1430
    slack.add_user("U0ADMIN", "admin@example.com", tz="Europe/Berlin")
    short_key = heimdall.add_operator("short-bot", hours=40)
    heimdall.operator_key = short_key  # type: ignore[attr-defined]
    rt = runtime(store, heimdall, slack, clock, tmp_path, admin_slack_user_ids="U0ADMIN")
    await sweep(rt)
    admin_dms = [c for c in slack.delivered("chat.postMessage") if c.params["channel"] == "U0ADMIN"]
    assert len(admin_dms) == 1
    text = json.dumps(admin_dms[0].params)
    assert "bot's own DataOS API key" in text and short_key not in text
    await sweep(rt)
    assert len([c for c in slack.delivered("chat.postMessage") if c.params["channel"] == "U0ADMIN"]) == 1
    await rt.aclose()


async def test_scheduled_revocation_is_carried_out_once(rt: Runtime, store: Repositories, heimdall: HeimdallEmulator,
                                                        clock: FakeClock) -> None:
    old = heimdall.add_token("alice", "old", hours=24 * 30)
    await store.revocations.schedule_revocation("alice", "old", key_expiration=old.expiration,
                                                revoke_at=clock.now() + 24 * H, requested_by="U0ALICE",
                                                now=clock.now())
    await sweep(rt)
    assert "old" in heimdall.tokens["alice"]
    clock.advance(hours=24)
    summary = await sweep(rt)
    assert summary.revoked_later == 1 and "old" not in heimdall.tokens["alice"]
    assert (await sweep(rt)).revoked_later == 0


# ---- exactly once on PostgreSQL -----------------------------------------------------------------


def _many_people(heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, count: int) -> None:
    for i in range(count):
        heimdall.add_user(f"p{i:03d}", f"p{i:03d}@example.com")
        slack.add_user(f"UP{i:03d}", f"p{i:03d}@example.com", tz="UTC", tz_offset=0)
        heimdall.add_token(f"p{i:03d}", "main", expiration=clock.now() + 20 * H)
        heimdall.add_token(f"p{i:03d}", "side", expiration=clock.now() + 6 * D)


async def test_two_replicas_sweeping_at_once_send_each_reminder_once(
    pg_engines: tuple[Repositories, Repositories], heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
    tmp_path: Path,
) -> None:
    clock._now = WED_1430
    _many_people(heimdall, slack, clock, 40)
    heimdall.latency = 0.005  # interleave the two sweeps
    one = runtime(pg_engines[0], heimdall, slack, clock, tmp_path)
    two = runtime(pg_engines[1], heimdall, slack, clock, tmp_path)
    a, b = await asyncio.gather(Sweeper(one, worker="replica-1").run("discovery"),
                                Sweeper(two, worker="replica-2").run("discovery"))
    received = dms(slack)
    assert len(received) == 80 and len(set(received)) == 80
    assert a.sent + b.sent == 80
    # Each reminder the other replica sent is skipped: as claimed by it, or, when this replica read the
    # record after it was sent, as not due (which of the two depends on timing, the total does not).
    others = sum(s.skipped["claimed by another sweep"] + s.skipped["not due"] for s in (a, b))
    assert others == 80
    ledger = await pg_engines[0].ledger.ledger()
    assert len(ledger) == 80 and {r["state"] for r in ledger} == {"sent"}
    await one.aclose()
    await two.aclose()


async def test_interrupted_sweep_is_finished_by_the_next_and_the_dm_in_flight_never_repeated(
    pg_engines: tuple[Repositories, Repositories], heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
    tmp_path: Path,
) -> None:
    clock._now = WED_1430
    _many_people(heimdall, slack, clock, 30)  # 60 reminders
    # One DM at a time in the doomed process, so the 11th starts only once the 10th was answered: with
    # 20 at once, how many are in flight when Slack hangs depends on how the batches formed.
    rt = runtime(pg_engines[0], heimdall, slack, clock, tmp_path, sweep_concurrency=1)
    # Slack delivers 10 DMs, then hangs on the 11th; with it stuck, the process dies.
    slack.hold("chat.postMessage", times=1, after=10)
    task = asyncio.create_task(Sweeper(rt, worker="doomed").run("discovery"))
    await asyncio.to_thread(slack.wait_for, "held:chat.postMessage", 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.to_thread(slack.wait_for, "chat.postMessage", 1,
                            where=lambda c: c.result.get("error") == "caller_went_away")
    states = Counter(r["state"] for r in await pg_engines[0].ledger.ledger())
    # The DM in flight when the process stopped may have reached Slack: recorded as unknown, never sent
    # again. Those claimed but not yet sent are released at once, not left to their lease.
    assert (states["sent"], states["unknown"], states["claimed"]) == (10, 1, 0)
    assert set(states) <= {"sent", "unknown", "failed"}
    assert len(dms(slack)) == 10
    # another replica, inside what was the claims' lease, sends all the rest
    rt2 = runtime(pg_engines[1], heimdall, slack, clock, tmp_path)
    clock.advance(minutes=5)
    second = await Sweeper(rt2, worker="next").run("discovery")
    assert second.sent == 49 and second.skipped["claimed by another sweep"] == 0
    clock.advance(minutes=6)
    third = await Sweeper(rt2, worker="after-lease").run("discovery")
    assert third.sent == 0
    received = dms(slack)
    assert len(received) == 59 and len(set(received)) == 59, sorted(received)
    assert len(slack.calls_to("chat.postMessage")) == 60  # the unknown one was attempted once, never again
    assert Counter(r["state"] for r in await pg_engines[0].ledger.ledger()) == {"sent": 59, "unknown": 1}
    await rt.aclose()
    await rt2.aclose()
