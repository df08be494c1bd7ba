"""What became of one reminder DM, told from Slack's answer, and the outcomes the database has not taken yet.

A DM's fate is one of: sent; refused for now (rate limit, Slack unavailable, no connection made: it
was never taken, so it is tried again after a back-off); refused for good by the recipient's side
(`user_not_found`, `messages_tab_disabled`…: this step is undeliverable, the next step tries again);
unknown (the connection broke or timed out after the request went out, or Slack said it failed "but
part of it may have succeeded": the person may have it, so that step is never sent again); or the
bot's token is refused (`invalid_auth`, `token_revoked`…: nothing more can be sent, the pass stops).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.store import Ledger, Outcome

log = logging.getLogger(__name__)


class SweepFailed(Exception):
    """The sweep could not start (directory or database unavailable) or had to stop (Slack refuses the
    bot's token); the message says why."""


class SweepReport(Protocol):
    """What a finished sweep tells whoever asked for it (`bot.reminders.sweep.SweepSummary`)."""

    @property
    def sent(self) -> int: ...

    def lines(self) -> list[str]: ...

Fate = Literal["failed", "undeliverable", "unknown", "token"]
#: The bot's token itself is refused: every DM would be.
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive",
                          "org_login_required", "ekm_access_denied", "team_access_not_granted", "missing_scope",
                          "not_allowed_token_type"})
#: The recipient (or this message) can never be reached: retrying changes nothing.
PERMANENT_ERRORS = frozenset({"user_not_found", "users_not_found", "channel_not_found", "messages_tab_disabled",
                              "cannot_dm_bot", "user_disabled", "is_archived", "not_in_channel",
                              "restricted_action", "invalid_blocks", "invalid_blocks_format", "msg_too_long",
                              "no_text", "invalid_arguments", "too_many_attachments", "msg_blocks_too_long"})
#: Slack's answers that mean a channel itself cannot take the bot's posts (not this message, not for now):
#: archived, the bot not in it (or removed), gone, or a workspace preference that stops the bot posting
#: there. A team's reminders and leak reports then go to its owners by DM, and the admins are told.
CHANNEL_UNREACHABLE = frozenset({"is_archived", "not_in_channel", "channel_not_found", "restricted_action"})
#: Slack's own words for these: "it's possible some aspect of the operation succeeded".
MAYBE_TAKEN_ERRORS = frozenset({"internal_error", "fatal_error"})
#: Waits before a refused-for-now step may be claimed again, by attempt (the last one repeats).
BACKOFF = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(hours=3))
#: Writing outcomes through a database blip: attempts, and the first wait (doubling).
RECORD_ATTEMPTS = 5
RECORD_FIRST_WAIT = 0.2


def slack_code(exc: SlackApiError) -> str:
    response: Any = exc.response
    data = getattr(response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return str(error) if error else f"http_{http_status(exc)}"


def http_status(exc: SlackApiError) -> int:
    response: Any = exc.response
    return int(getattr(response, "status_code", None) or getattr(response, "status", None) or 0)


def fate_of(exc: BaseException) -> tuple[Fate, str]:
    """(fate, short reason) of a chat.postMessage that raised `exc`."""
    if isinstance(exc, SlackApiError):
        status, code = http_status(exc), slack_code(exc)
        if status == 429 or code == "ratelimited":
            return "failed", "ratelimited"  # Slack's rate limit refuses before posting
        if status == 200:
            if code in TOKEN_ERRORS:
                return "token", code
            if code in PERMANENT_ERRORS:
                return "undeliverable", code
            if code in MAYBE_TAKEN_ERRORS:
                return "unknown", code
            return "failed", code  # an answered refusal: nothing was posted
        if status == 503:
            return "failed", code  # unavailable: not taken
        if status >= 500:
            return "unknown", code  # a gateway's 500/502/504 may come after Slack took it
        return "failed", code
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "failed", "no_connection"  # never connected: nothing was sent
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "unknown", "timeout"
    if isinstance(exc, asyncio.CancelledError):
        return "unknown", "stopped_in_flight"
    if isinstance(exc, aiohttp.ClientError | OSError):
        return "unknown", "connection_lost"
    return "unknown", type(exc).__name__[:64]


def retry_after(attempts: int, now: datetime) -> datetime:
    return now + BACKOFF[min(max(attempts, 1), len(BACKOFF)) - 1]


class OutcomeBook:
    """Outcomes not yet in the database. Written with bounded retries through a blip; what still could
    not be written stays here, and is written first by the next pass and before the process exits (its
    claims stay open meanwhile, so nobody else sends those DMs before their lease runs out)."""

    def __init__(self, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.pending: list[Outcome] = []
        self._sleep = sleep
        self._lock = asyncio.Lock()

    def add(self, outcomes: Sequence[Outcome]) -> None:
        self.pending += outcomes

    @property
    def busy(self) -> bool:
        """A write is under way (it takes what was added meanwhile, or the next one does)."""
        return self._lock.locked()

    async def flush(self, ledger: Ledger, *, attempts: int = RECORD_ATTEMPTS) -> bool:
        """Write what is pending; True when nothing is left. Not cancelled by a shutdown half-way."""
        return await asyncio.shield(self._flush(ledger, attempts))

    async def _flush(self, ledger: Ledger, attempts: int) -> bool:
        async with self._lock:
            wait = RECORD_FIRST_WAIT
            for attempt in range(attempts):
                batch = list(self.pending)
                if not batch:
                    return True
                try:
                    await ledger.finish_reminders(batch)
                except Exception as exc:  # the database is unreachable or refused: try again shortly
                    if attempts == 1:  # a write on the way (the batch's own write retries): no noise per DM
                        return False
                    log.warning("could not record %d reminder outcome(s) (%s); attempt %d of %d", len(batch),
                                type(exc).__name__, attempt + 1, attempts)
                    if attempt + 1 < attempts:
                        await self._sleep(wait)
                        wait *= 2
                    continue
                del self.pending[:len(batch)]
            return not self.pending
