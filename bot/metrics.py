"""Prometheus metrics, on the process's default registry (served at `/metrics`).

Labels are bounded: commands and outcomes from fixed sets, DataOS routes with ids replaced by
placeholders, HTTP statuses. Never a user, key name or anything that could hold a secret.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler

REQUESTS = Counter(
    "apikey_bot_requests_total", "Slack requests handled, by kind (command, view, action) and outcome",
    ["kind", "name", "outcome"],
)
DATAOS_LATENCY = Histogram(
    "apikey_bot_dataos_request_seconds", "DataOS (Heimdall) call latency", ["method", "route"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
DATAOS_ERRORS = Counter(
    "apikey_bot_dataos_errors_total", "DataOS calls that failed, by status (or transport error)",
    ["method", "route", "status"],
)
REMINDERS = Counter("apikey_bot_reminders_total", "Reminder decisions by outcome (sent, skipped, failed)",
                    ["outcome"])
SWEEP_SECONDS = Histogram("apikey_bot_sweep_seconds", "Duration of a whole reminder sweep",
                          buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
SLACK_RATE_LIMIT_WAITS = Counter("apikey_bot_slack_rate_limit_waits_total",
                                 "Slack 429 answers waited out (Retry-After), by Web API method", ["method"])

SUBCOMMANDS = frozenset({"help", "list", "create", "revoke", "whoami", "link", "reminders", "admin"})


def dataos_observer(method: str, route: str, status: int | None, seconds: float) -> None:
    DATAOS_LATENCY.labels(method, route).observe(seconds)
    if status is None or status >= 400:
        DATAOS_ERRORS.labels(method, route, str(status) if status is not None else "transport").inc()


def count_request(kind: str, name: str, outcome: str) -> None:
    REQUESTS.labels(kind, name if kind != "command" or name in SUBCOMMANDS else "unknown", outcome).inc()


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out Slack's 429s like the stock handler, and counts each wait."""

    async def prepare_for_next_attempt_async(self, **kwargs: Any) -> None:
        request = kwargs.get("request")
        url = str(getattr(request, "url", "") or "")
        method = url.rstrip("/").rsplit("/", 1)[-1] or "unknown"
        SLACK_RATE_LIMIT_WAITS.labels(method if "." in method else "unknown").inc()
        await super().prepare_for_next_attempt_async(**kwargs)
