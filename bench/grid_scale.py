"""Grid scale: an Enterprise Grid organisation of 100,000 members across 20 workspaces (one in ten also in a
second workspace), the bot installed for the organisation, against the Slack stand-in made an organisation.

- G1, a cold directory walk (auth.teams.list, then users.list with team_id for every granted workspace) with
  Slack's Tier 2 limit of 20 calls a minute counted per workspace, on an injected clock: every member found
  once, <= 1.2 x the rate limit's own minimum (the largest workspace's, since workspaces are walked side by
  side).
- G2, one discovery (`apikey-bot sweep --discover`, a process of its own, the defaults): peak RSS <= 300 MB.
- G3, DataOS calls in a simulated day with the defaults (DISCOVERY_LISTINGS_PER_DAY spreads the listings
  over the day's discoveries), on an injected clock, in process: <= 150,000.

    python -m bench.grid_scale [--users 100000] [--workspaces 20] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import report
from bench.p3_sweep import DAYS, run_sweep
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.slack import SlackFake
from tests.conftest import FakeClock

TIER2 = (20, 60.0)


def organisation(users: int, workspaces: int, clock: Callable[[], float] | None = None,
                 keys: Callable[[int], list[tuple[str, timedelta]]] | None = None,
                 now: Callable[[], datetime] | None = None) -> tuple[HeimdallEmulator, SlackFake, int]:
    """The fakes: `users` DataOS persons, each a Slack member of the organisation in workspace i % workspaces
    (and one in ten also in the next one), with `keys(i)` expiring that long from now; returns them (not
    started) and the number of memberships."""
    emu = HeimdallEmulator(record_calls=False, **({"clock": now} if now is not None else {}))
    emu.operator_key = emu.add_operator()  # type: ignore[attr-defined]
    slack = SlackFake(**({"clock": clock} if clock is not None else {}))
    slack.make_org()
    teams = ["T0123"] + [f"T{n:07d}" for n in range(1, workspaces)]
    for team in teams[1:]:
        slack.add_workspace(team, f"Workspace {team}")
    memberships = 0
    for i in range(users):
        uid = f"user{i:06d}"
        emu.add_user(uid, f"{uid}@example.com")
        home = i % workspaces
        where = [teams[home]] + ([teams[(home + 1) % workspaces]] if i % 10 == 0 and workspaces > 1 else [])
        memberships += len(where)
        slack.in_org(f"W{i:08d}", *where, email=f"{uid}@example.com", tz="Europe/Berlin", tz_offset=3600)
        for name, left in (keys(i) if keys is not None else []):
            emu.add_token(uid, name, expiration=(now() if now is not None else datetime.now(UTC)) + left)
    slack.rate_limits = {"users.list": TIER2, "auth.teams.list": TIER2}
    return emu, slack, memberships


class VirtualTime:
    """`sleep` on an injected clock for walkers side by side: time moves (to the earliest wake-up) only when
    every workspace being walked is waiting out a 429, as it would if the waits were real."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.clock.monotonic() + seconds, next(self._seq), future))
        await future

    async def drive(self, done: asyncio.Future[object], walking: Callable[[], int]) -> None:
        while not done.done():
            await asyncio.sleep(0.001)
            if self._sleepers and len(self._sleepers) >= walking():
                wake = self._sleepers[0][0]
                self.clock.advance(seconds=max(0.0, wake - self.clock.monotonic()))
                while self._sleepers and self._sleepers[0][0] <= self.clock.monotonic():
                    heapq.heappop(self._sleepers)[2].set_result(None)


async def cold_walk(users: int, workspaces: int, tmp: Path) -> tuple[int, int, float, float, int]:
    """G1: (members found, memberships, seconds on the injected clock, the rate limit's minimum, 429s)."""
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.audience import SlackDirectory
    from bot.membership import Workspace
    from bot.store import Members, create_engine, migrate

    clock = FakeClock()
    _, slack, memberships = organisation(users, workspaces, clock=clock.monotonic)
    slack.start()
    stored = Members(create_engine(f"sqlite+aiosqlite:///{tmp}/walk.db"))
    await migrate(stored.engine)
    time_ = VirtualTime(clock)

    async def home() -> Workspace:
        return Workspace("E0ACME", "E0ACME", org=True)

    client = AsyncWebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    directory = SlackDirectory(client, stored, sleep=time_.sleep, home=home, clock=clock.now)
    started = clock.monotonic()
    try:
        walk = asyncio.ensure_future(directory.members())
        await time_.drive(walk, lambda: directory.walker.walking)
        found = len(await walk)
    finally:
        slack.stop()
        await stored.engine.dispose()
    elapsed = clock.monotonic() - started
    per_team = Counter(t for u in slack.users.values() for t in u["enterprise_user"]["teams"])
    calls, per = TIER2
    pages = max(-(-n // slack.page_size) for n in per_team.values())
    minimum = ((pages - 1) // calls) * per  # the last page of the largest workspace at the start of its minute
    limited = len([c for c in slack.calls_to("users.list") if c.result.get("error") == "ratelimited"])
    return found, memberships, elapsed, minimum, limited


def discovery_rss(users: int, workspaces: int, tmp: Path) -> tuple[str, float]:
    """G2: one discovery in a process of its own, the defaults; (its summary, its peak RSS in MB)."""
    emu, slack, _ = organisation(users, workspaces,
                                 keys=lambda i: [("key_a", timedelta(days=20 + i % 300)),
                                                 ("key_b", timedelta(days=200 + i % 150))])
    slack.rate_limits = {}  # G1 measures the walk's pace; here only its memory counts
    emu.start()
    slack.start()
    try:
        summary, _, rss = run_sweep(emu, slack, tmp, "--discover", DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/g2.db",
                                    WORKING_DAYS=DAYS[(datetime.now(UTC).weekday() + 1) % 7])  # records, sends none
    finally:
        emu.stop()
        slack.stop()
    return summary, rss


async def simulated_day(users: int, workspaces: int, tmp: Path,
                        listings: int | None = None) -> tuple[int, Counter[str], int]:
    """G3: the defaults over one day on an injected clock, every DataOS call counted; (calls, passes by
    kind, people listed at least once)."""
    from bot.app import Runtime
    from bot.config import Settings
    from bot.reminders.sweep import Sweeper
    from tests.e2e.harness import make_settings

    clock = FakeClock(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))  # a Tuesday
    emu, slack, _ = organisation(users, workspaces, clock=clock.monotonic, now=clock.now,
                                 keys=lambda i: [(f"key_{n}", timedelta(days=d, hours=i % 24))
                                                 for n, d in enumerate((1 + i % 90, 30 + i % 180, 365))])
    slack.rate_limits = {}  # waits on the injected clock would only move the day along faster
    emu.start()
    slack.start()

    async def wait_out(seconds: float) -> None:
        clock.advance(seconds=seconds)

    # the defaults, but for the fakes' URLs (and DataOS's time limit, which the tests' settings keep short)
    settings = make_settings(slack, emu, str(tmp / "day.db"), notice_new_keys=True,
                             dataos_timeout_seconds=Settings.model_fields["dataos_timeout_seconds"].default,
                             **({"discovery_listings_per_day": listings} if listings is not None else {}))
    rt = Runtime(settings, clock=clock.now, monotonic=clock.monotonic, slack_sleep=wait_out)
    kinds: Counter[str] = Counter()
    try:
        await rt.start()
        start = clock.now()
        emu.served = 0
        while clock.now() < start + timedelta(days=1):
            summary = await Sweeper(rt).run()
            kinds[summary.kind] += 1
            await rt.directory.ensure_loaded()
            clock.advance(minutes=settings.sweep_interval_minutes)
        served = emu.served
        listed = sum(1 for at in (await rt.sightings.listed_at()).values() if at is not None)
    finally:
        await rt.aclose()
        emu.stop()
        slack.stop()
    return served, kinds, listed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--workspaces", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="G1 only (G2 and G3 take minutes at full size)")
    parser.add_argument("--only-day", action="store_true", help="G3 only")
    parser.add_argument("--listings-per-day", type=int, default=None,
                        help="G3 with this DISCOVERY_LISTINGS_PER_DAY instead of the default (a smaller organisation "
                             "at the same ratio)")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str, bool | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only_day:
            per_day, kinds, listed = asyncio.run(simulated_day(args.users, args.workspaces, Path(tmp),
                                                               args.listings_per_day))
            print(f"G3: {per_day} DataOS calls, {listed} people listed, passes {dict(kinds)}", flush=True)
            return 0
        found, memberships, walked, minimum, limited = asyncio.run(cold_walk(args.users, args.workspaces, Path(tmp)))
        rows += [
            ("G1 walk: members found (memberships)", f"{found} ({memberships})", f"{args.users}",
             found == args.users),
            ("G1 walk: time (injected clock)", f"{walked:.0f} s", f"<= {1.2 * minimum:.0f} s (1.2 x {minimum:.0f} s)",
             walked <= 1.2 * minimum),
            ("G1 429s waited out", f"{limited}", "-", None),
        ]
        print(f"G1 walk: {found} members, {walked:.0f} s (minimum {minimum:.0f} s), {limited} 429s", flush=True)
        if not args.quick:
            summary, rss = discovery_rss(args.users, args.workspaces, Path(tmp))
            print("G2 discovery:", summary.strip().replace("\n", "; "), f"(peak RSS {rss:.0f} MB)", flush=True)
            rows.append(("G2 peak RSS of the discovery process", f"{rss:.0f} MB", "<= 300 MB", rss <= 300))
            started = time.perf_counter()
            per_day, kinds, listed = asyncio.run(simulated_day(args.users, args.workspaces, Path(tmp)))
            rows += [
                ("G3 DataOS calls in a simulated day", f"{per_day}", "<= 150,000", per_day <= 150_000),
                ("G3 people listed that day", f"{listed}", f"{args.users}", None),
                ("G3 passes that day", ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
                 f"(simulated in {time.perf_counter() - started:.0f} s)", None),
            ]
    title = f"Grid scale: {args.users} members across {args.workspaces} workspaces"
    return 0 if report(title, rows) else 1


if __name__ == "__main__":
    sys.exit(main())
