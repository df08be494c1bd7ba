"""P3: a reminder sweep over 10,000 users x 3 keys, DataOS at 25 ms per call, at most 20 calls in flight.

Targets (design.md): <= 1.5 x the ideal (users x 25 ms / 20 = 12.5 s for 10,000), >= 10 x faster than a
sequential sweep measured in the same run (on a 500-user sample, scaled), peak RSS <= 300 MB, and no
duplicate DM. Each sweep runs as `apikey-bot sweep` in its own process, on a fresh SQLite database.

    python -m bench.p3_sweep [--users 10000] [--sample 500]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import bot_env, fakes, report
from tests.fakes.heimdall import HeimdallEmulator
from tests.fakes.slack import SlackFake

LATENCY = 0.025
IN_FLIGHT = 20


def seed(emu: HeimdallEmulator, users: int) -> None:
    now = datetime.now(UTC)
    for i in range(users):
        uid = f"user{i:05d}"
        # about one user in ten has a key inside its 30-day reminder window
        emu.add_token(uid, "key_a", expiration=now + timedelta(days=1 + i % 300, hours=1))
        emu.add_token(uid, "key_b", expiration=now + timedelta(days=100 + i % 200))
        emu.add_token(uid, "key_c", expiration=now + timedelta(days=330))


def sweep(emu: HeimdallEmulator, slack: SlackFake, concurrency: int, tmp: Path) -> tuple[float, str]:
    env = bot_env(emu, slack, SWEEP_CONCURRENCY=str(concurrency), WORKING_HOURS="00:00-24:00",
                  WORKING_DAYS="mon-sun", DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/sweep-{concurrency}.db")
    out = subprocess.run([sys.executable, "-m", "bot", "sweep"], env=env, cwd=tmp, capture_output=True, text=True,
                         timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stdout + out.stderr)
    took = float(re.search(r"took ([0-9.]+) s", out.stdout).group(1))  # type: ignore[union-attr]
    return took, out.stdout


def duplicates(slack: SlackFake) -> int:
    seen = Counter()
    for call in slack.delivered("chat.postMessage"):
        value = next(e["value"] for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"])
        seen[(call.params["channel"], json.loads(value)["k"])] += 1
    return sum(n - 1 for n in seen.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=500)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        emu, slack = fakes(args.sample, latency=LATENCY)
        seed(emu, args.sample)
        sequential_sample, _ = sweep(emu, slack, 1, Path(tmp))
        emu.stop()
        slack.stop()
        sequential = sequential_sample * args.users / args.sample

        emu, slack = fakes(args.users, latency=LATENCY)
        seed(emu, args.users)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        took, summary = sweep(emu, slack, IN_FLIGHT, Path(tmp))
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        dups = duplicates(slack)
        sent = len(slack.delivered("chat.postMessage"))
        in_flight = emu.max_in_flight
        emu.stop()
        slack.stop()
    ideal = args.users * LATENCY / IN_FLIGHT
    print(summary.strip().replace("\n", "; "))
    if before / 1024 > peak_mb:
        peak_mb = float("nan")
    ok = report(f"P3 reminder sweep, {args.users} users x 3 keys, DataOS {LATENCY * 1000:.0f} ms per call", [
        ("ideal (users x 25 ms / 20)", f"{ideal:.2f} s", "-", None),
        ("sweep", f"{took:.2f} s", f"<= {1.5 * ideal:.2f} s (1.5 x ideal)", took <= 1.5 * ideal),
        ("sequential, scaled", f"{sequential:.1f} s", f"from {args.sample} users", None),
        ("speed-up over sequential", f"{sequential / took:.1f}x", ">= 10x", sequential / took >= 10),
        ("most DataOS calls in flight", f"{in_flight}", f"<= {IN_FLIGHT}", in_flight <= IN_FLIGHT),
        ("peak RSS of the sweep", f"{peak_mb:.0f} MB", "<= 300 MB", peak_mb <= 300),
        ("reminders sent", f"{sent}", "-", None),
        ("duplicate DMs", f"{dups}", "0", dups == 0),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
