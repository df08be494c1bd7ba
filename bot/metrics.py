"""Prometheus metrics, on the process's default registry (served at `/metrics`).

Labels are bounded: commands and outcomes from fixed sets, DataOS routes with ids replaced by
placeholders, HTTP statuses. Never a user, key name or anything that could hold a secret.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

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
REMINDERS = Counter("apikey_bot_reminders_total",
                    "Reminder decisions by outcome (sent, skipped, failed, undeliverable, unknown)",
                    ["outcome"])
SWEEP_SECONDS = Histogram("apikey_bot_sweep_seconds", "Duration of a whole reminder sweep",
                          buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600))
SLACK_RATE_LIMIT_WAITS = Counter("apikey_bot_slack_rate_limit_waits_total",
                                 "Slack 429 answers waited out (Retry-After), by Web API method", ["method"])

SLACK_DIRECTORY_PAGES = Counter("apikey_bot_slack_users_list_pages_total",
                                "users.list pages read (the Slack directory walk, at discovery and start-up)")
DATAOS_CALLS = Counter("apikey_bot_dataos_calls_total",
                       "DataOS calls by purpose: tick (confirming due keys), discovery, user action, directory",
                       ["purpose"])
RECORD_AGE = Gauge("apikey_bot_key_record_oldest_seconds",
                   "Age of the oldest entry in the bot's record of keys: how long ago the least recently "
                   "listed person's keys were listed")
SLACK_TOKEN_LOST = Counter("apikey_bot_slack_token_lost_total",
                           "Slack said the bot's token is dead (app uninstalled, tokens revoked, or a call refused "
                           "with invalid_auth, token_revoked, account_inactive…); reminders stop", ["cause"])
TOKEN_LOSS_CAUSES = frozenset({"app_uninstalled", "tokens_revoked", "invalid_auth", "not_authed", "token_revoked",
                               "token_expired", "account_inactive"})
SLACK_RATE_LIMITED = Counter("apikey_bot_slack_app_rate_limited_total",
                             "app_rate_limited callbacks: Slack is dropping this app's events (over 30,000 an hour)")
#: Why DataOS is being called right now; the sweep sets it for its own calls.
DATAOS_PURPOSE: ContextVar[str] = ContextVar("dataos_purpose", default="user action")

LEAKS = Counter("apikey_bot_leak_watch_total",
                "Leak watch: key-shaped candidates, and what became of them (check queued, check skipped: queue "
                "full, not live, owner told, admins told, not told yet, repeat, check failed)", ["outcome"])

DATAOS_RECORDS_SKIPPED = Counter("apikey_bot_dataos_records_skipped_total",
                                 "DataOS records skipped because they lack what the bot needs (a user without an "
                                 "id, a key without a name or expiry), by kind (user, key)", ["kind"])

SUBCOMMANDS = frozenset({"help", "list", "create", "revoke", "whoami", "link", "reminders", "admin"})


def dataos_observer(method: str, route: str, status: int | None, seconds: float) -> None:
    DATAOS_LATENCY.labels(method, route).observe(seconds)
    DATAOS_CALLS.labels("directory" if route == "/users" else DATAOS_PURPOSE.get()).inc()
    if status is None or status >= 400:
        DATAOS_ERRORS.labels(method, route, str(status) if status is not None else "transport").inc()


def count_request(kind: str, name: str, outcome: str) -> None:
    REQUESTS.labels(kind, name if kind != "command" or name in SUBCOMMANDS else "unknown", outcome).inc()


#: Web API methods that spend a trigger_id, which Slack honours for 3 s from sending the request.
TRIGGER_METHODS = frozenset({"views.open", "views.push"})
#: When the trigger of the request being handled stops working, on the runtime's monotonic clock; set
#: by the front door for each command and interaction (None outside a request).
TRIGGER_DEADLINE: ContextVar[float | None] = ContextVar("trigger_deadline", default=None)
SLACK_TRIGGER_GIVE_UPS = Counter("apikey_bot_slack_trigger_retries_skipped_total",
                                 "Slack 429s on a trigger-bound call (views.open) not waited out, because the "
                                 "trigger_id would have expired first")


def _method(request: HttpRequest) -> str:
    method = str(getattr(request, "url", "") or "").rstrip("/").rsplit("/", 1)[-1]
    return method if "." in method else "unknown"


def _retry_after(response: HttpResponse | None) -> int:
    for name, values in (response.headers if response is not None else {}).items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) and values else values
            text = str(value).strip()
            return int(text) if text.isascii() and text.isdigit() else 1
    return 1


class CountingRateLimitHandler(AsyncRateLimitErrorRetryHandler):
    """Waits out Slack's 429s like the stock handler, and counts each wait, except on a call that spends
    a trigger_id when the wait would outlast the trigger: that retry could only be `expired_trigger_id`,
    so the 429 is raised at once and the person is told to try again."""

    def __init__(self, max_retry_count: int = 1, *, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.sleep = sleep
        self.monotonic = monotonic

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None, error: Exception | None = None) -> bool:
        if response is None or response.status_code != 429:
            return False
        deadline = TRIGGER_DEADLINE.get()
        if _method(request) in TRIGGER_METHODS and deadline is not None:
            if self.monotonic() + _retry_after(response) > deadline:
                SLACK_TRIGGER_GIVE_UPS.inc()
                return False
        return True

    async def prepare_for_next_attempt_async(self, *, state: RetryState, request: HttpRequest,
                                             response: HttpResponse | None = None,
                                             error: Exception | None = None) -> None:
        if response is None:  # not a 429: nothing to wait out
            raise error if error is not None else RuntimeError("no response to retry")
        method = _method(request)
        SLACK_RATE_LIMIT_WAITS.labels(method).inc()
        state.next_attempt_requested = True
        # A trigger-bound call waits exactly what Slack asked (checked against the deadline above);
        # others add up to a second of jitter, as the stock handler does, to spread replicas apart.
        jitter = 0.0 if method in TRIGGER_METHODS else random.random()  # noqa: S311 (spreading, not secrecy)
        await self.sleep(_retry_after(response) + jitter)
        state.increment_current_attempt()
