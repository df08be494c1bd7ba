"""Prometheus metrics, on the process's default registry (served at `/metrics`).

Labels are bounded: commands and outcomes from fixed sets, DataOS routes with ids replaced by
placeholders, HTTP statuses. Never a user, key name or anything that could hold a secret.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
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
                "Leak watch: key-shaped candidates, and what became of them (not live, owner told, admins told, "
                "repeat, check failed, check skipped)", ["outcome"])

SUBCOMMANDS = frozenset({"help", "list", "create", "revoke", "whoami", "link", "reminders", "admin"})


def dataos_observer(method: str, route: str, status: int | None, seconds: float) -> None:
    DATAOS_LATENCY.labels(method, route).observe(seconds)
    DATAOS_CALLS.labels("directory" if route == "/users" else DATAOS_PURPOSE.get()).inc()
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
