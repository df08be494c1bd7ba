"""P1: acknowledgement latency of `/apikey list` at 50 concurrent clients, over real HTTP, side by side
with a bare Bolt AsyncApp that only acks (the floor), served the same way in the same run.

Target (design.md): the bot's p99 <= 2 x the bare app's p99.

"50 concurrent clients" is measured as bursts: each of 50 clients sends one `/apikey list` at the
same moment, `--bursts` times with a pause between bursts (what Slack sends when 50 people type the
command together). The sustained figure, where each client sends its next request as soon as the
previous one is acknowledged, is printed too, without a target: there the bot is limited by the work
each list does after its ack (a DataOS call, a response), which the bare app does not do.
Requests come from a separate process (bench/loadgen.py) so the fakes here do not slow the client.

    python -m bench.p1_ack [--clients 50] [--bursts 20] [--requests 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.common import SIGNING_SECRET, bot_env, fakes, free_port, median, percentile, process, report, serve_bot
from bot.playground.slack import SlackFake


def load(url: str, slack_url: str, bodies: list[str], clients: int | None, tmp: Path) -> list[float]:
    """Send `bodies` from bench/loadgen.py: all at once (clients None) or by `clients` closed-loop clients."""
    spec = tmp / "p1.json"
    spec.write_text(json.dumps({"url": url, "secret": SIGNING_SECRET, "clients": clients,
                                "requests": [{"body": b} for b in bodies]}))
    out = subprocess.run([sys.executable, "-m", "bench.loadgen", str(spec)], capture_output=True, text=True,
                         cwd=Path(__file__).parents[1], timeout=600, check=True).stdout
    result = json.loads(out)
    bad = [s for s in result["statuses"] if s != 200]
    if bad:
        raise RuntimeError(f"{len(bad)} requests were not acknowledged with 200: {sorted(set(bad))}")
    return [float(s) for s in result["seconds"]]


def list_command(slack: SlackFake, client: int, i: int) -> str:
    """A signed `/apikey list` body, with a response_url the Slack stand-in knows (it refuses any other)."""
    return urlencode({"command": "/apikey", "text": "list", "user_id": f"U{(client * 7 + i) % 50:07d}",
                      "team_id": "T0123", "channel_id": "C1", "trigger_id": f"{client}.{i}",
                      "response_url": slack.response_url(f"p1-{client}-{i}", command=True)})


def bursts(url: str, slack: SlackFake, clients: int, count: int, tmp: Path) -> list[float]:
    seconds: list[float] = []
    for i in range(count):
        seconds += load(url, slack.url, [list_command(slack, n, i) for n in range(clients)], None, tmp)
        time.sleep(0.3)  # let the burst's follow-up work finish: bursts, not a queue
    return seconds


def sustained(url: str, slack: SlackFake, clients: int, per_client: int, tmp: Path) -> list[float]:
    bodies = [list_command(slack, n, i) for i in range(per_client) for n in range(clients)]
    return load(url, slack.url, bodies, clients, tmp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--bursts", type=int, default=20, help="bursts per run")
    parser.add_argument("--requests", type=int, default=40, help="requests per client, sustained load")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    emu, slack = fakes(50)
    for i in range(50):
        emu.add_token(f"user{i:05d}", f"key_{i}", hours=24 * 30)
    figures: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = bot_env(emu, slack)
        bot_port, bare_port = free_port(), free_port()
        with serve_bot(env, Path(tmp), bot_port), process(
            [sys.executable, "-m", "bench.bare_bolt", "--port", str(bare_port)], env, Path(__file__).parents[1],
            ready_url=f"http://127.0.0.1:{bare_port}/readyz",
        ):
            apps = (("bare", f"http://127.0.0.1:{bare_port}"), ("bot", f"http://127.0.0.1:{bot_port}"))
            for _, url in apps:  # warm both up (auth.test, caches)
                bursts(url, slack, min(args.clients, 10), 2, Path(tmp))
            for _ in range(args.runs):
                for name, url in apps:
                    burst = bursts(url, slack, args.clients, args.bursts, Path(tmp))
                    steady = sustained(url, slack, args.clients, args.requests, Path(tmp))
                    for mode, seconds in (("burst", burst), ("sustained", steady)):
                        figures.setdefault((name, mode + " p50"), []).append(percentile(seconds, 50))
                        figures.setdefault((name, mode + " p99"), []).append(percentile(seconds, 99))
    emu.stop()
    slack.stop()

    def ms(name: str, figure: str) -> str:
        return f"{median(figures[(name, figure)]) * 1000:.1f} ms"

    ratio = median(figures[("bot", "burst p99")]) / median(figures[("bare", "burst p99")])
    steady_ratio = median(figures[("bot", "sustained p99")]) / median(figures[("bare", "sustained p99")])
    ok = report(f"P1 /apikey list acknowledgement, {args.clients} concurrent clients, {args.bursts} bursts per run, "
                f"median of {args.runs} runs", [
                    ("bare Bolt p50 / p99", f"{ms('bare', 'burst p50')} / {ms('bare', 'burst p99')}", "(floor)", None),
                    ("bot p50 / p99", f"{ms('bot', 'burst p50')} / {ms('bot', 'burst p99')}", "-", None),
                    ("bot p99 / bare p99", f"{ratio:.2f}x", "<= 2.00x", ratio <= 2),
                    ("sustained: bare p99", ms("bare", "sustained p99"), f"({args.requests} requests per client)",
                     None),
                    ("sustained: bot p99", ms("bot", "sustained p99"), f"{steady_ratio:.2f}x the bare app's", None),
                ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
