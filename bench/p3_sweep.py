"""P3: reminders at 10,000 employees x 3 keys, DataOS at 25 ms per call, at most 20 calls in flight.

- P3b, one discovery (`apikey-bot sweep --discover`, the Slack directory warm): <= 1.5 x the ideal
  (10,000 x 25 ms / 20 = 12.5 s); CPU ms per employee printed; peak RSS of the process <= 150 MB.
  It runs outside the owners' working days, so it records every key and sends nothing.
- P3a, one tick (`apikey-bot sweep` in a fresh process, the record warm, 2% of keys at a due step):
  DataOS calls <= owners with a due key + 1; users.list calls 0; wall time <= 1.5 x (owners x 25 ms / 20)
  + 1 s; every due reminder sent once.
- P3c, DataOS calls per day with the defaults, over a simulated day (an injected clock, in process):
  <= 50,000.
- P3d, a cold users.list walk of 10,000 members against a Slack fake that allows 20 calls a minute (an
  injected clock): finishes with every member, <= 1.2 x the rate limit's own minimum, no sweep fails.

    python -m bench.p3_sweep [--users 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import bot_env, fakes, report
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock

LATENCY = 0.025
IN_FLIGHT = 20
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def seed(emu: HeimdallEmulator, users: int, now: datetime) -> int:
    """Three keys each; 2% of all keys (one key of 6% of the users: 600 of 30,000 at 10,000 users) are
    inside the 7-day reminder window. Returns how many owners have a due key."""
    due_owners = 0
    for i in range(users):
        uid = f"user{i:05d}"
        due = i % 50 < 3
        if due:
            due_owners += 1
        emu.add_token(uid, "key_a", expiration=now + (timedelta(days=5) if due else timedelta(days=100 + i % 200)))
        emu.add_token(uid, "key_b", expiration=now + timedelta(days=150 + i % 150))
        emu.add_token(uid, "key_c", expiration=now + timedelta(days=330))
    return due_owners


def run_sweep(emu: HeimdallEmulator, slack: SlackFake, tmp: Path, *args: str, **env: str) -> tuple[str, float, float]:
    """`apikey-bot sweep` in its own process: (its summary, the CPU seconds it used, its peak RSS in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrapper = str(Path(__file__).with_name("child_rss.py"))
    out = subprocess.run([sys.executable, wrapper, sys.executable, "-m", "bot", "sweep", *args],
                         env=bot_env(emu, slack, **env), cwd=tmp, capture_output=True, text=True, timeout=3600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    peak = int(re.search(r"peak_rss_kb=(\d+)", out.stderr).group(1))  # type: ignore[union-attr]
    return out.stdout, cpu, peak / 1024


def took(summary: str) -> float:
    return float(re.search(r"took ([0-9.]+) s", summary).group(1))  # type: ignore[union-attr]


def duplicates(slack: SlackFake) -> int:
    seen: Counter[tuple[str, str]] = Counter()
    for call in slack.delivered("chat.postMessage"):
        value = next(e["value"] for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"])
        seen[(call.params["channel"], json.loads(value)["k"])] += 1
    return sum(n - 1 for n in seen.values())


def processes(users: int, tmp: Path) -> list[tuple[str, str, str, bool | None]]:
    """P3b then P3a, each as `apikey-bot sweep` in its own process against the fakes."""
    now = datetime.now(UTC)
    emu, slack = fakes(users, latency=LATENCY)
    slack.rate_limits = {}  # the directory is warm for these two: its cold walk is P3d
    due_owners = seed(emu, users, now)
    db = dict(DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/p3.db", SWEEP_CONCURRENCY=str(IN_FLIGHT))
    not_today = DAYS[(now.weekday() + 1) % 7]  # every key recorded, none sent: they are due at the tick
    try:
        emu.served = 0
        summary_b, cpu_b, rss_b = run_sweep(emu, slack, tmp, "--discover", WORKING_DAYS=not_today,
                                            WORKING_HOURS="00:00-24:00", **db)
        calls_b = emu.served
        walks = len(slack.calls_to("users.list"))
        emu.served = 0
        summary_a, _, rss_a = run_sweep(emu, slack, tmp, WORKING_DAYS="mon-sun", WORKING_HOURS="00:00-24:00", **db)
        calls_a = emu.served
        walks_a = len(slack.calls_to("users.list")) - walks
        sent = len(slack.delivered("chat.postMessage"))
        dups = duplicates(slack)
        in_flight = emu.max_in_flight
    finally:
        emu.stop()
        slack.stop()
    print("discovery:", summary_b.strip().replace("\n", "; "))
    print("tick:     ", summary_a.strip().replace("\n", "; "))
    ideal = users * LATENCY / IN_FLIGHT
    t_b, t_a = took(summary_b), took(summary_a)
    tick_target = 1.5 * (due_owners * LATENCY / IN_FLIGHT) + 1
    return [
        ("P3b discovery: ideal (users x 25 ms / 20)", f"{ideal:.2f} s", "-", None),
        ("P3b discovery", f"{t_b:.2f} s", f"<= {1.5 * ideal:.2f} s (1.5 x ideal)", t_b <= 1.5 * ideal),
        ("P3b CPU per employee", f"{cpu_b * 1000 / users:.2f} ms", "-", None),
        ("P3b DataOS calls", f"{calls_b}", f"{users} lists + directory", None),
        ("P3b peak RSS of the discovery process", f"{rss_b:.0f} MB", "<= 150 MB", rss_b <= 150),
        ("P3a peak RSS of the tick process", f"{rss_a:.0f} MB", "<= 150 MB", rss_a <= 150),
        ("P3a owners with a due key", f"{due_owners}", "-", None),
        ("P3a tick DataOS calls", f"{calls_a}", f"<= {due_owners + 1}", calls_a <= due_owners + 1),
        ("P3a tick users.list calls", f"{walks_a}", "0", walks_a == 0),
        ("P3a tick", f"{t_a:.2f} s", f"<= {tick_target:.2f} s", t_a <= tick_target),
        ("P3a reminders sent", f"{sent}", f"{due_owners}", sent == due_owners),
        ("P3a/b most DataOS calls in flight", f"{in_flight}", f"<= {IN_FLIGHT}", in_flight <= IN_FLIGHT),
        ("P3a/b duplicate DMs", f"{dups}", "0", dups == 0),
    ]


async def simulated_day(users: int, tmp: Path) -> tuple[int, Counter[str]]:
    """The defaults over one day on an injected clock: the scheduler's cadence, every call counted."""
    from bot.app import Runtime
    from bot.reminders.sweep import Sweeper
    from tests.e2e.harness import make_settings

    clock = FakeClock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # a Tuesday
    emu = HeimdallEmulator(clock=clock.now, record_calls=False)
    emu.operator_key = emu.add_operator()  # type: ignore[attr-defined]
    slack = SlackFake(clock=clock.monotonic)
    for i in range(users):
        uid = f"user{i:05d}"
        emu.add_user(uid, f"{uid}@example.com")
        slack.add_user(f"U{i:07d}", f"{uid}@example.com", tz="Europe/Berlin", tz_offset=3600)
        for n, days in enumerate((1 + i % 90, 30 + i % 180, 365)):  # expiries spread over the year
            emu.add_token(uid, f"key_{n}", expiration=clock.now() + timedelta(days=days, hours=i % 24))
    emu.start()
    slack.start()

    async def wait_out(seconds: float) -> None:
        clock.advance(seconds=seconds)

    # the defaults, but for the fakes' URLs (new-key notices are on by default: the harness turns them off)
    settings = make_settings(slack, emu, str(tmp / "day.db"), notice_new_keys=True)
    rt = Runtime(settings, clock=clock.now, monotonic=clock.monotonic, slack_sleep=wait_out)
    kinds: Counter[str] = Counter()
    try:
        await rt.start()
        start = clock.now()
        emu.served = 0
        while clock.now() < start + timedelta(days=1):
            summary = await Sweeper(rt).run()
            kinds[summary.kind] += 1
            await rt.directory.ensure_loaded()  # its background refresh when DIRECTORY_TTL_SECONDS passed
            clock.advance(minutes=settings.sweep_interval_minutes)
        served = emu.served
    finally:
        await rt.aclose()
        emu.stop()
        slack.stop()
    return served, kinds


async def cold_walk(members: int, tmp: Path) -> tuple[int, float, float, int]:
    """A users.list walk at 20 calls a minute: (members found, seconds on the injected clock, the rate
    limit's own minimum, 429s waited out)."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.audience import SlackDirectory
    from bot.store import Members, create_engine, migrate

    clock = FakeClock()
    slack = SlackFake(clock=clock.monotonic)
    for i in range(members):
        slack.add_user(f"U{i:07d}", f"m{i}@example.com", tz="UTC", tz_offset=0)
    slack.start()
    members_stored = Members(create_engine(f"sqlite+aiosqlite:///{tmp}/walk.db"))
    await migrate(members_stored.engine)

    async def wait_out(seconds: float) -> None:
        clock.advance(seconds=seconds)

    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    directory = SlackDirectory(client, members_stored, sleep=wait_out)
    started = clock.monotonic()
    try:
        found = len(await directory.members())
    finally:
        slack.stop()
        await members_stored.engine.dispose()
    elapsed = clock.monotonic() - started
    calls, per = 20, 60.0
    pages = -(-members // slack.page_size)
    minimum = ((pages - 1) // calls) * per  # the last page can go out at the start of its minute
    limited = len([c for c in slack.calls_to("users.list") if c.result.get("error") == "ratelimited"])
    return found, elapsed, minimum, limited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="P3a and P3b only (the simulated day takes minutes)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        rows = processes(args.users, Path(tmp))
        if args.quick:
            return 0 if report(f"P3a/b at {args.users} employees", rows) else 1
        started = time.perf_counter()
        per_day, kinds = asyncio.run(simulated_day(args.users, Path(tmp)))
        day_seconds = time.perf_counter() - started
        found, walked, minimum, limited = asyncio.run(cold_walk(args.users, Path(tmp)))
    rows += [
        ("P3c DataOS calls in a simulated day", f"{per_day}", "<= 50,000", per_day <= 50_000),
        ("P3c passes that day", ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
         f"(simulated in {day_seconds:.0f} s)", None),
        ("P3d cold walk: members found", f"{found}", f"{args.users}", found == args.users),
        ("P3d cold walk: time (injected clock)", f"{walked:.0f} s",
         f"<= {1.2 * minimum:.0f} s (1.2 x {minimum:.0f} s)", walked <= 1.2 * minimum),
        ("P3d 429s waited out", f"{limited}", "-", None),
    ]
    ok = report(f"P3 reminders at {args.users} employees x 3 keys, DataOS {LATENCY * 1000:.0f} ms per call", rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
