"""Send many signed Slack requests and report each one's acknowledgement time.

Runs in its own process so the measuring client does not share an interpreter (and its lock) with
the fakes or the bot. Input: a JSON file with {"url", "secret", "requests": [{"body", "content_type"}],
"clients"}. Without "clients" every request is sent at once (a burst); with it, that many clients
each send their share one after another (a steady load). Output (stdout): {"seconds": [...],
"statuses": [...]} in request order.

    python -m bench.loadgen spec.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import aiohttp
from slack_sdk.signature import SignatureVerifier


async def run(spec: dict[str, Any]) -> dict[str, list[Any]]:
    verifier = SignatureVerifier(spec["secret"])
    requests: list[dict[str, str]] = spec["requests"]
    clients = int(spec.get("clients") or len(requests))
    seconds: list[float] = [0.0] * len(requests)
    statuses: list[int] = [0] * len(requests)
    # aiohttp, not httpx: with hundreds of requests at once, httpx's own per-request CPU made this
    # client the slowest part of the measurement (a bare Bolt app "took" 2.5 s to ack 200 requests).
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(spec["url"], connector=connector, timeout=timeout) as http:

        async def one(index: int) -> None:
            item = requests[index]
            ts = str(int(time.time()))
            headers = {"Content-Type": item.get("content_type", "application/x-www-form-urlencoded"),
                       "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=item["body"])}
            body = item["body"].encode()
            started = time.perf_counter()
            async with http.post("/slack/events", data=body, headers=headers) as response:
                await response.read()
                seconds[index] = time.perf_counter() - started
                statuses[index] = response.status

        async def client(first: int) -> None:
            for index in range(first, len(requests), clients):
                await one(index)

        await asyncio.gather(*(client(n) for n in range(min(clients, len(requests)))))
    return {"seconds": seconds, "statuses": statuses}


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
