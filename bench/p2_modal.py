"""P2: with DataOS answering in 2 s, `/apikey create` reaches `views.open` at the Slack fake within 300 ms
(p99) of the request. The modal must open before any DataOS or database call.

    python -m bench.p2_modal [--requests 60] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bench.common import SIGNING_SECRET, bot_env, fakes, free_port, percentile, report, serve_bot
from bot.playground.slack import SlackFake


async def creates(url: str, slack: SlackFake, total: int, concurrency: int) -> list[float]:
    verifier = SignatureVerifier(SIGNING_SECRET)
    sent: dict[str, float] = {}
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def one(i: int) -> None:
            async with gate:
                trigger = f"p2.{i}.{time.monotonic_ns()}"
                body = urlencode({"command": "/apikey", "text": "create", "user_id": f"U{i % 50:07d}",
                                  "team_id": "T0123", "channel_id": "C1", "trigger_id": trigger,
                                  "response_url": slack.response_url(f"p2-{i}", command=True)})
                ts = str(int(time.time()))
                headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": ts,
                           "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body)}
                sent[trigger] = time.monotonic()
                r = await http.post("/slack/events", content=body, headers=headers)
                if r.status_code != 200:
                    raise RuntimeError(f"status {r.status_code}")
                await asyncio.to_thread(slack.wait_for, "views.open", 1,
                                        where=lambda c: c.params.get("trigger_id") == trigger, timeout=30)

        await asyncio.gather(*(one(i) for i in range(total)))
    opened = {c.params.get("trigger_id"): c.at for c in slack.calls_to("views.open")}
    return [opened[t] - sent[t] for t in sent]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args(argv)
    emu, slack = fakes(50, latency=2.0)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        with serve_bot(bot_env(emu, slack), Path(tmp), port):
            asyncio.run(creates(f"http://127.0.0.1:{port}", slack, 2, 2))  # warm-up (auth.test)
            seconds = asyncio.run(creates(f"http://127.0.0.1:{port}", slack, args.requests, args.concurrency))
    emu.stop()
    slack.stop()
    p99 = percentile(seconds, 99)
    ok = report(f"P2 /apikey create -> views.open, DataOS at 2 s per call, {args.requests} requests, "
                f"{args.concurrency} at a time", [
                    ("p50", f"{percentile(seconds, 50) * 1000:.0f} ms", "-", None),
                    ("p99", f"{p99 * 1000:.0f} ms", "<= 300 ms", p99 <= 0.3),
                    ("max", f"{max(seconds) * 1000:.0f} ms", "-", None),
                ])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
