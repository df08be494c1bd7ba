"""P4: idle RSS and start-up time to a ready `/readyz`, next to a minimal Bolt app measured the same way.

Targets (design.md, #21): idle RSS <= 100 MB; start-up to ready <= 1.1 x the stack's floor, measured side
by side in the same run. The floor is a bare Bolt app that imports the same libraries as the bot
(`bench.bare_bolt --with-libraries`), which is as fast as any bot on this stack could start; the plain
bare Bolt app is printed for reference. The bot runs with the default settings (reminders
on: the scheduler starts, and sweeps once, at start-up). The database is created by the first run;
later runs find it up to date (the common case: a restart), which needs no Alembic at all.

Besides wall time, each process's CPU time until it answered ready is read (its process CPU clock: every
thread, user and system). On a machine that other work loads, wall time swings with the load; CPU time
hardly does, so its ratio is the steadier figure (it leaves out the waits start-up has: the network, the
database). `--also DIR` starts a second bot from another source tree (a checkout of an earlier commit) in
the same rounds, for a before/after comparison.

    python -m bench.p4_startup [--runs 5] [--also /tmp/old-checkout]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, bot_env, fakes, free_port, median, process, report, rss_mb, serve_bot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--also", type=Path, help="another source tree of the bot, started in the same rounds")
    args = parser.parse_args(argv)
    emu, slack = fakes(50)
    starts, rss, bare_starts, bare_rss, floor_starts, also_starts = [], [], [], [], [], []
    cpu: dict[str, list[float]] = {"bot": [], "bare": [], "floor": [], "also": []}
    # The other tree gets a database of its own (its schema may differ), kept across runs as the bot's is.
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory() as other:
        env = bot_env(emu, slack, REMINDERS_ENABLED="true")
        for _ in range(args.runs):
            port = free_port()
            with serve_bot(env, Path(tmp), port, cpu=cpu["bot"]) as (proc, took):
                time.sleep(1.0)  # idle: let start-up work (the directory load) settle
                starts.append(took)
                rss.append(rss_mb(proc.pid))
            port = free_port()
            with process([sys.executable, "-m", "bench.bare_bolt", "--port", str(port)], env, ROOT,
                         ready_url=f"http://127.0.0.1:{port}/readyz", cpu=cpu["bare"]) as (proc, took):
                time.sleep(1.0)
                bare_starts.append(took)
                bare_rss.append(rss_mb(proc.pid))
            port = free_port()
            with process([sys.executable, "-m", "bench.bare_bolt", "--port", str(port), "--with-libraries"], env,
                         ROOT, ready_url=f"http://127.0.0.1:{port}/readyz", cpu=cpu["floor"]) as (proc, took):
                floor_starts.append(took)
            if args.also is not None:
                port = free_port()
                with process([sys.executable, "-m", "bot", "serve", "--host", "127.0.0.1", "--port", str(port)],
                             {**env, "PYTHONPATH": str(args.also.resolve())}, Path(other),
                             ready_url=f"http://127.0.0.1:{port}/readyz", cpu=cpu["also"]) as (proc, took):
                    also_starts.append(took)
    emu.stop()
    slack.stop()
    to_floor = median(starts) / median(floor_starts)
    ratio = median(starts) / median(bare_starts)
    floor = median(floor_starts) / median(bare_starts)
    cpu_to_floor = median(cpu["bot"]) / median(cpu["floor"])
    rows: list[tuple[str, str, str, bool | None]] = [
        ("bot: start to /readyz 200", f"{median(starts):.2f} s", "-", None),
        ("minimal Bolt app: start to ready", f"{median(bare_starts):.2f} s", "(reference)", None),
        ("minimal Bolt app importing the bot's libraries", f"{median(floor_starts):.2f} s", "(floor)", None),
        ("bot / floor", f"{to_floor:.2f}x", "<= 1.1x", to_floor <= 1.1),
        ("bot / minimal Bolt app", f"{ratio:.2f}x", "(reference)", None),
        ("floor / minimal Bolt app", f"{floor:.2f}x", "(reference)", None),
        ("CPU time to ready: bot", f"{median(cpu['bot']):.3f} s", "-", None),
        ("CPU time to ready: minimal Bolt app", f"{median(cpu['bare']):.3f} s", "(reference)", None),
        ("CPU time to ready: floor", f"{median(cpu['floor']):.3f} s", "-", None),
        ("CPU time to ready: bot / floor", f"{cpu_to_floor:.2f}x", "(steadier under load)", None),
        ("bot: idle RSS", f"{median(rss):.0f} MB", "<= 100 MB", median(rss) <= 100),
        ("minimal Bolt app: idle RSS", f"{median(bare_rss):.0f} MB", "(reference)", None),
    ]
    if args.also is not None:
        rows += [(f"--also {args.also}: start to /readyz 200", f"{median(also_starts):.2f} s", "(reference)", None),
                 ("--also / floor", f"{median(also_starts) / median(floor_starts):.2f}x", "(reference)", None),
                 ("--also: CPU time to ready", f"{median(cpu['also']):.3f} s", "(reference)", None),
                 ("--also: CPU time / floor", f"{median(cpu['also']) / median(cpu['floor']):.2f}x", "(reference)",
                  None)]
    ok = report(f"P4 start-up and idle memory, median of {args.runs} runs (load {os.getloadavg()[0]:.1f})", rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
