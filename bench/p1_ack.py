"""P1: acknowledgement latency of `/apikey list` at 50 concurrent clients, over real HTTP, side by side
with a bare Bolt AsyncApp that only acks (the floor), served the same way in the same run.

Target (design.md): the bot's p99 <= 2 x the bare app's p99.

    python -m bench.p1_ack [--clients 50] [--requests 40] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from bench.common import SIGNING_SECRET, bot_env, fakes, free_port, median, percentile, process, report, serve_bot


def hammer(url: str, slack_url: str, clients: int, per_client: int, tmp: Path) -> list[float]:
    """`clients` concurrent clients, each sending `per_client` signed `/apikey list` one after another,
    from a separate process (bench/loadgen.py) so the fakes in this one do not slow the client."""
    bodies = []
    for i in range(per_client):
        for n in range(clients):
            bodies.append(urlencode({"command": "/apikey", "text": "list", "user_id": f"U{(n * 7 + i) % 50:07d}",
                                     "team_id": "T0123", "channel_id": "C1", "trigger_id": f"{n}.{i}",
                                     "response_url": f"{slack_url}/respond/p1-{n}-{i}"}))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=40, help="requests per client")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)

    emu, slack = fakes(50)
    for i in range(50):
        emu.add_token(f"user{i:05d}", f"key_{i}", hours=24 * 30)
    bot_p99, bare_p99, bot_p50, bare_p50 = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:

        env = bot_env(emu, slack)
        bot_port, bare_port = free_port(), free_port()
        with serve_bot(env, Path(tmp), bot_port), process(
            [sys.executable, "-m", "bench.bare_bolt", "--port", str(bare_port)], env, Path(__file__).parents[1],
            ready_url=f"http://127.0.0.1:{bare_port}/readyz",
        ):
            for port in (bot_port, bare_port):  # warm both up (auth.test, caches)
                hammer(f"http://127.0.0.1:{port}", slack.url, min(args.clients, 10), 2, Path(tmp))
            for _ in range(args.runs):
                for name, port in (("bare", bare_port), ("bot", bot_port)):
                    seconds = hammer(f"http://127.0.0.1:{port}", slack.url, args.clients, args.requests, Path(tmp))
                    (bot_p99 if name == "bot" else bare_p99).append(percentile(seconds, 99))
                    (bot_p50 if name == "bot" else bare_p50).append(percentile(seconds, 50))
    emu.stop()
    slack.stop()
    ratio = median(bot_p99) / median(bare_p99)
    ok = report(f"P1 /apikey list acknowledgement, {args.clients} concurrent clients x {args.requests} requests, "
                f"median of {args.runs} runs", [
                    ("bare Bolt p50", f"{median(bare_p50) * 1000:.1f} ms", "(floor)", None),
                    ("bare Bolt p99", f"{median(bare_p99) * 1000:.1f} ms", "(floor)", None),
                    ("bot p50", f"{median(bot_p50) * 1000:.1f} ms", "-", None),
                    ("bot p99", f"{median(bot_p99) * 1000:.1f} ms", f"<= {2 * median(bare_p99) * 1000:.1f} ms",
                     ratio <= 2),
                    ("bot p99 / bare p99", f"{ratio:.2f}x", "<= 2.00x", ratio <= 2),
                ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
