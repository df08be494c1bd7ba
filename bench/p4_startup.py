"""P4: idle RSS and start-up time to a ready `/readyz`, next to a minimal Bolt app measured the same way.

Targets (design.md, #21): idle RSS <= 100 MB; start-up to ready <= 1.1 x the stack's floor, measured side
by side in the same run. The floor is a bare Bolt app that imports the same libraries as the bot
(`bench.bare_bolt --with-libraries`), which is as fast as any bot on this stack could start; the plain
bare Bolt app is printed for reference. The bot runs with the default settings (reminders
on: the scheduler starts, and sweeps once, at start-up). The database is created by the first run;
later runs find it up to date (the common case: a restart), which needs no Alembic at all.

    python -m bench.p4_startup [--runs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, bot_env, fakes, free_port, median, process, report, rss_mb, serve_bot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    emu, slack = fakes(50)
    starts, rss, bare_starts, bare_rss, floor_starts = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        env = bot_env(emu, slack, REMINDERS_ENABLED="true")
        for _ in range(args.runs):
            port = free_port()
            with serve_bot(env, Path(tmp), port) as (proc, took):
                time.sleep(1.0)  # idle: let start-up work (the directory load) settle
                starts.append(took)
                rss.append(rss_mb(proc.pid))
            port = free_port()
            with process([sys.executable, "-m", "bench.bare_bolt", "--port", str(port)], env, ROOT,
                         ready_url=f"http://127.0.0.1:{port}/readyz") as (proc, took):
                time.sleep(1.0)
                bare_starts.append(took)
                bare_rss.append(rss_mb(proc.pid))
            port = free_port()
            with process([sys.executable, "-m", "bench.bare_bolt", "--port", str(port), "--with-libraries"], env,
                         ROOT, ready_url=f"http://127.0.0.1:{port}/readyz") as (proc, took):
                floor_starts.append(took)
    emu.stop()
    slack.stop()
    to_floor = median(starts) / median(floor_starts)
    ratio = median(starts) / median(bare_starts)
    floor = median(floor_starts) / median(bare_starts)
    ok = report(f"P4 start-up and idle memory, median of {args.runs} runs", [
        ("bot: start to /readyz 200", f"{median(starts):.2f} s", "-", None),
        ("minimal Bolt app: start to ready", f"{median(bare_starts):.2f} s", "(reference)", None),
        ("minimal Bolt app importing the bot's libraries", f"{median(floor_starts):.2f} s", "(floor)", None),
        ("bot / floor", f"{to_floor:.2f}x", "<= 1.1x", to_floor <= 1.1),
        ("bot / minimal Bolt app", f"{ratio:.2f}x", "(reference)", None),
        ("floor / minimal Bolt app", f"{floor:.2f}x", "(reference)", None),
        ("bot: idle RSS", f"{median(rss):.0f} MB", "<= 100 MB", median(rss) <= 100),
        ("minimal Bolt app: idle RSS", f"{median(bare_rss):.0f} MB", "(reference)", None),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
