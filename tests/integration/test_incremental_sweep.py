"""The incremental sweep (issue #13): ticks decide from the bot's record and call DataOS only for owners
with a due key; discoveries list everyone every DISCOVERY_INTERVAL; the Slack directory is walked at
discovery (surviving Tier 2 rate limits) and kept current by events in between."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.app import Runtime
from bot.identity import Identity, profile_from_user
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from bot.reminders.sweep import Sweeper
from bot.store.schema import KeySighting
from tests.conftest import FakeClock
from tests.integration.runtimes import WED_1430, runtime
from tests.repositories import Repositories

D = timedelta(days=1)



def token_calls(heimdall: HeimdallEmulator) -> list[str]:
    """Whose keys DataOS was asked for, in order."""
    return [c.path.split("/users/")[1].split("/")[0] for c in heimdall.calls if "/tokens" in c.path]


def reminded(slack: SlackFake) -> list[tuple[str, str]]:
    out = []
    for call in slack.delivered("chat.postMessage"):
        actions = [b for b in call.params["blocks"] if b["type"] == "actions"]
        if actions:
            out.append((call.params["channel"], json.loads(actions[0]["elements"][0]["value"])["k"]))
    return out


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_first_pass_discovers_then_ticks_call_dataos_only_for_owners_with_a_due_key(
        rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("alice", "alices", expiration=WED_1430 + 60 * D)
    heimdall.add_token("bob", "bobs", expiration=WED_1430 + 200 * D)
    first = await Sweeper(rt).run()
    assert first.kind == "discovery" and sorted(set(token_calls(heimdall))) == ["alice", "bob", "carol"]
    assert reminded(slack) == []
    heimdall.calls.clear()
    walks = len(slack.calls_to("users.list"))
    tick_calls = metric("apikey_bot_dataos_calls_total", purpose="tick")
    clock.advance(days=35)  # alice's key: 25 days left, its 30-day step is due; bob's: nothing due
    tick = await Sweeper(rt).run("tick")
    assert tick.kind == "tick" and tick.due_owners == 1
    assert token_calls(heimdall) == ["alice"]  # one call, to confirm the key before the DM
    assert len(slack.calls_to("users.list")) == walks  # no directory walk on a tick
    assert reminded(slack) == [("U0ALICE", "alices")]
    assert metric("apikey_bot_dataos_calls_total", purpose="tick") - tick_calls == 1
    heimdall.calls.clear()
    again = await Sweeper(rt).run("tick")  # sent: nothing is due any more, so DataOS is not called at all
    assert again.kind == "tick" and again.due_owners == 0 and token_calls(heimdall) == []


async def test_a_key_revoked_or_renewed_elsewhere_gets_no_reminder(
        rt: Runtime, store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_token("alice", "revoked_in_ui", expiration=WED_1430 + 60 * D)
    heimdall.add_token("bob", "renewed_by_cli", expiration=WED_1430 + 60 * D)
    await Sweeper(rt).run()
    heimdall.remove_token("alice", "revoked_in_ui")
    heimdall.remove_token("bob", "renewed_by_cli")
    renewed = heimdall.add_token("bob", "renewed_by_cli", expiration=WED_1430 + 120 * D)  # same name, later
    clock.advance(days=35)
    tick = await Sweeper(rt).run("tick")
    assert tick.due_owners == 2 and reminded(slack) == []
    sightings = {(r.dataos_user_id, r.key_name, r.expiration) for r in
                 (await store.sightings.load_reminder_state(since=clock.now())).sightings.values()}
    assert ("bob", "renewed_by_cli", renewed.expiration) in sightings  # the record follows DataOS's answer
    assert not [s for s in sightings if s[0] == "alice"]
    heimdall.calls.clear()
    await Sweeper(rt).run("tick")
    assert token_calls(heimdall) == []  # forgotten keys cost no more calls


async def test_keys_made_outside_the_bot_are_known_at_the_next_discovery(
        rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock) -> None:
    assert (await Sweeper(rt).run()).kind == "discovery"
    heimdall.add_token("alice", "made_in_ui", expiration=clock.now() + 20 * D)
    clock.advance(hours=1)
    tick = await Sweeper(rt).run()
    assert tick.kind == "tick" and tick.keys_seen == 0  # not known yet
    clock.advance(hours=6)  # DISCOVERY_INTERVAL (6h) after the last discovery began
    found = await Sweeper(rt).run()
    assert found.kind == "discovery" and found.keys_seen == 1
    # first seen now, 19 days before expiry: a known lifetime of 19 days gets the 7-day step (half or less)
    clock.advance(days=13, hours=12, minutes=30)  # Wednesday 10:00 UTC, six days before expiry
    await Sweeper(rt).run()
    assert reminded(slack) == [("U0ALICE", "made_in_ui")]


async def test_people_s_own_actions_refresh_the_record_without_extra_calls(
        rt: Runtime, store: Repositories, heimdall: HeimdallEmulator, clock: FakeClock) -> None:
    await Sweeper(rt).run()
    made = heimdall.add_token("alice", "listed_by_alice", expiration=clock.now() + 90 * D)
    heimdall.calls.clear()
    alice = Identity("U0ALICE", "alice", "e-mail")
    await rt.keys.list_keys(alice)
    assert token_calls(heimdall) == ["alice"]  # just the list she asked for
    rows = (await store.sightings.load_reminder_state(since=clock.now())).sightings
    assert ("alice", "listed_by_alice", made.expiration) in rows
    await rt.keys.revoke_exact("alice", "listed_by_alice", made.expiration, actor="U0ALICE", detail="test")
    rows = (await store.sightings.load_reminder_state(since=clock.now())).sightings
    assert ("alice", "listed_by_alice", made.expiration) not in rows
    assert await store.database.count(KeySighting) == 0


async def test_a_failed_discovery_is_tried_again_by_the_next_pass(
        rt: Runtime, heimdall: HeimdallEmulator, clock: FakeClock) -> None:
    from bot.reminders.summary import SweepFailed

    heimdall.fail_next(4, 503, match="/users?limit")  # the directory: one call and its three retries
    with pytest.raises(SweepFailed):
        await Sweeper(rt).run()
    clock.advance(minutes=30)
    assert (await Sweeper(rt).run()).kind == "discovery"


async def test_the_slack_directory_follows_events_between_walks(
        rt: Runtime, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock) -> None:
    heimdall.add_user("erin", "erin@example.com")
    heimdall.add_token("erin", "erins", expiration=WED_1430 + 60 * D)
    await Sweeper(rt).run()
    walks = len(slack.calls_to("users.list"))
    # Erin joins Slack after the walk: team_join puts her in the audience without a walk.
    joined = slack.add_user("U0ERIN", "erin@example.com", tz="UTC", tz_offset=0)
    await rt.slack_directory.apply(profile_from_user(joined))
    clock.advance(days=35)
    await Sweeper(rt).run("tick")
    assert ("U0ERIN", "erins") not in reminded(slack)  # the tick only knows keys it has seen...
    await Sweeper(rt).run()  # ...a discovery (6 h have passed) lists Erin's keys: her 30-day reminder
    assert ("U0ERIN", "erins") in reminded(slack)
    # Bob is deactivated: user_change takes him out of the audience at once.
    await rt.slack_directory.apply(profile_from_user(dict(slack.users["U0BOB"], deleted=True)))
    assert "U0BOB" not in await rt.slack_directory.members()
    assert len(slack.calls_to("users.list")) == walks + 1  # one walk per discovery, none for the events


async def test_a_cold_walk_survives_tier_2_rate_limits(
        store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path) -> None:
    clock._now = WED_1430
    for i in range(1000):
        slack.add_user(f"UM{i:04d}", f"member{i}@example.com", tz="UTC", tz_offset=0)
    slack.page_size = 100  # 11 pages at 2 a minute: 429s all the way
    slack.rate_limits["users.list"] = (2, 60.0)
    rt = runtime(store, heimdall, slack, clock, tmp_path)
    started = clock.monotonic()
    try:
        summary = await Sweeper(rt).run()
    finally:
        await rt.aclose()
    assert summary.kind == "discovery" and not summary.failures
    members = await rt.slack_directory.members()
    assert len(members) == 1004
    limited = [c for c in slack.calls_to("users.list") if c.result.get("error") == "ratelimited"]
    pages = [c for c in slack.calls_to("users.list") if c.result.get("ok")]
    assert limited and len(pages) == 11
    cursors = [c.params.get("cursor") for c in pages]
    assert len(set(cursors)) == len(cursors)  # each page read once: the walk went on, never started over
    assert clock.monotonic() - started <= 1.2 * (11 // 2) * 60  # about the rate limit's own minimum


async def test_a_tick_and_a_discovery_on_two_replicas_send_each_reminder_once(
        heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock, tmp_path: Path,
        pg_engines: tuple[Repositories, Repositories]) -> None:
    clock._now = WED_1430
    for i in range(30):
        heimdall.add_user(f"p{i:03d}", f"p{i:03d}@example.com")
        slack.add_user(f"UP{i:03d}", f"p{i:03d}@example.com", tz="UTC", tz_offset=0)
        heimdall.add_token(f"p{i:03d}", "far", expiration=WED_1430 + 40 * D)
    one = runtime(pg_engines[0], heimdall, slack, clock, tmp_path)
    two = runtime(pg_engines[1], heimdall, slack, clock, tmp_path)
    try:
        await Sweeper(one, worker="r1").run()  # the record: 30 keys, nothing due yet
        clock.advance(days=15)  # every key now has its 30-day step due
        heimdall.latency = 0.005  # interleave the two passes
        tick, discovery = await asyncio.gather(Sweeper(one, worker="r1").run("tick"),
                                               Sweeper(two, worker="r2").run("discovery"))
        assert tick.kind == "tick" and discovery.kind == "discovery"
        received = reminded(slack)
        assert len(received) == 30 and len(set(received)) == 30
        assert tick.sent + discovery.sent == 30
        await asyncio.gather(Sweeper(one, worker="r1").run("tick"), Sweeper(two, worker="r2").run("discovery"))
        assert len(reminded(slack)) == 30
    finally:
        await one.aclose()
        await two.aclose()


async def test_record_age_and_directory_pages_are_measured(rt: Runtime, clock: FakeClock) -> None:
    pages = metric("apikey_bot_slack_users_list_pages_total")
    await Sweeper(rt).run()
    assert metric("apikey_bot_slack_users_list_pages_total") - pages == 1
    clock.advance(hours=2)
    await Sweeper(rt).run()
    assert metric("apikey_bot_key_record_oldest_seconds") == 2 * 3600


async def test_a_fresh_process_ticks_from_the_stored_directory_without_a_walk(
        rt: Runtime, store: Repositories, heimdall: HeimdallEmulator, slack: SlackFake, clock: FakeClock,
        tmp_path: Path) -> None:
    heimdall.add_token("alice", "alices", expiration=WED_1430 + 60 * D)
    await Sweeper(rt).run()  # discovery: walks Slack once and stores what it found
    walks = len(slack.calls_to("users.list"))
    cron = runtime(store, heimdall, slack, clock, tmp_path)  # e.g. the next `apikey-bot sweep` from cron
    try:
        clock.advance(days=35)
        tick = await Sweeper(cron).run("tick")
    finally:
        await cron.aclose()
    assert tick.kind == "tick" and reminded(slack) == [("U0ALICE", "alices")]
    assert len(slack.calls_to("users.list")) == walks
