"""Send many signed Slack requests at once and report each one's acknowledgement time.

Runs in its own process so the measuring client does not share an interpreter (and its lock) with
the fakes or the bot. Input: a JSON file with {"url", "secret", "requests": [{"body", "content_type"}]}.
Output (stdout): {"seconds": [...], "statuses": [...]} in request order.

    python -m bench.loadgen spec.json
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx
from slack_sdk.signature import SignatureVerifier


async def run(spec: dict[str, Any]) -> dict[str, list[Any]]:
    verifier = SignatureVerifier(spec["secret"])
    requests = spec["requests"]
    limits = httpx.Limits(max_connections=len(requests) + 10, max_keepalive_connections=len(requests) + 10)
    async with httpx.AsyncClient(base_url=spec["url"], timeout=60, limits=limits) as http:

        async def one(item: dict[str, str]) -> tuple[float, int]:
            ts = str(int(time.time()))
            headers = {"Content-Type": item.get("content_type", "application/x-www-form-urlencoded"),
                       "X-Slack-Request-Timestamp": ts,
                       "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=item["body"])}
            started = time.perf_counter()
            response = await http.post("/slack/events", content=item["body"].encode(), headers=headers)
            return time.perf_counter() - started, response.status_code

        results = await asyncio.gather(*(one(item) for item in requests))
    return {"seconds": [r[0] for r in results], "statuses": [r[1] for r in results]}


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    print(json.dumps(asyncio.run(run(spec))))


if __name__ == "__main__":
    main()
