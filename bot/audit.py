"""The audit trail: every create, revoke, renew, reveal and link goes to the database and, when
AUDIT_CHANNEL is set, as one line to that Slack channel. Never the secret.

Slack takes about one message a second in a channel, so the channel is paced: a line goes out at once
when the channel has been quiet for a second, and lines that come faster (an admin's "Revoke all" of
thirty keys) wait for the next second and go out together, in one message. No line is dropped: one that
Slack refuses is logged with Slack's reason, and every line is in the database (`/apikey admin audit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import failure
from bot.store import Audit, Store
from bot.text import shown

log = logging.getLogger(__name__)
ANNOUNCED = frozenset({"create", "revoke", "renew", "reveal", "link", "admin link", "admin unlink", "admin revoke",
                       "link takeover", "leak", "link end", "link not me"})
ICONS = {"create": ":key:", "revoke": ":wastebasket:", "renew": ":recycle:", "reveal": ":eyes:", "link": ":link:",
         "link takeover": ":warning:", "leak": ":rotating_light:", "link end": ":scissors:",
         "link not me": ":no_entry:"}
#: Slack's pace for posting in one channel: about one message a second.
PACE_SECONDS = 1.0
#: Lines in one message: a burst longer than this goes out over several seconds (a line is at most
#: about 600 characters, so a message stays far below chat.postMessage's 40,000).
LINES_PER_POST = 40
#: What an operator does about the errors a misconfigured audit channel gets.
CHANNEL_FIXES = {
    "not_in_channel": "invite the bot to the channel (`/invite @apikey-bot` in it)",
    "channel_not_found": "check AUDIT_CHANNEL (a channel id such as C0123ABCD); a private channel must have the "
                         "bot invited",
    "is_archived": "the channel is archived: unarchive it or set AUDIT_CHANNEL to another one",
}


def audit_line(entry: Audit) -> str:
    """`:key: <@U1> create `ci_loader` of `alice` (expires …) → ok`: who, whose key, which, expiry, outcome."""
    icon = ICONS.get(entry.action.removeprefix("admin "), ":memo:")
    parts = [icon, f"<@{shown(entry.actor_slack_id, 32)}>", shown(entry.action, 32)]
    if entry.key_name:
        parts.append(f"`{shown(entry.key_name)}`")
    if entry.dataos_user_id:
        parts.append(f"of `{shown(entry.dataos_user_id)}`")
    if entry.key_expiration:
        stamp = int(entry.key_expiration.timestamp())
        parts.append(f"(expires <!date^{stamp}^{{date_short}}|{entry.key_expiration:%Y-%m-%d}>)")
    if entry.action in ("link takeover", "link end", "link not me") and entry.detail:
        parts.append(f"({shown(entry.detail, 200)})")
    parts.append(f"→ {shown(entry.outcome, 32)}")
    return " ".join(parts)


def channel_problem(error: str) -> str:
    """Slack's error for a post to the audit channel, with what to do about it if there is something."""
    fix = CHANNEL_FIXES.get(error)
    return f"{error}: {fix}" if fix else error


@contextlib.asynccontextmanager
async def _untracked() -> AsyncIterator[None]:
    yield


class AuditTrail:
    def __init__(self, store: Store, slack: AsyncWebClient, channel: str | None, *,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 work: Callable[[], contextlib.AbstractAsyncContextManager[None]] = _untracked) -> None:
        self.store = store
        self.slack = slack
        self.channel = channel
        self._sleep = sleep
        self._monotonic = monotonic
        self._work = work  # marks the posting as work in progress, so that a shutdown waits for it
        self._pending: list[str] = []
        self._poster: asyncio.Task[None] | None = None
        self._last_post: float | None = None

    async def record(self, entry: Audit) -> None:
        """Write the entry, then announce it. A failure is logged: the action itself already happened."""
        try:
            await self.store.audit(entry)
        except Exception:
            log.exception("could not write the audit entry for %s %s", entry.action, entry.key_name)
        await self.announce(entry)

    async def announce(self, entry: Audit) -> None:
        """Queue the entry's line for the channel; it is posted by a task of its own, at Slack's pace,
        so an action never waits for the channel."""
        if not self.channel or entry.action not in ANNOUNCED:
            return
        self._pending.append(audit_line(entry))
        if self._poster is None or self._poster.done():
            self._poster = asyncio.create_task(self._post_pending())

    async def flush(self, seconds: float = 10.0) -> None:
        """Wait (up to `seconds`) for the lines still to be posted, e.g. before the process ends."""
        if self._poster is not None and not self._poster.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._poster), seconds)
        if self._pending:
            log.warning("%d audit line(s) were not posted to the audit channel before shutdown; they are in "
                        "the database", len(self._pending))

    async def _post_pending(self) -> None:
        async with self._work():
            while self._pending:
                if self._last_post is not None:
                    wait = self._last_post + PACE_SECONDS - self._monotonic()
                    if wait > 0:
                        await self._sleep(wait)
                lines, self._pending = self._pending[:LINES_PER_POST], self._pending[LINES_PER_POST:]
                self._last_post = self._monotonic()
                await self._post(lines)

    async def _post(self, lines: list[str]) -> None:
        assert self.channel is not None
        try:
            await self.slack.chat_postMessage(channel=self.channel, text="\n".join(lines), unfurl_links=False)
        except Exception as exc:
            log.warning("could not post %d line(s) to the audit channel %s (%s); they are in the database "
                        "(`/apikey admin audit`)", len(lines), self.channel, channel_problem(failure(exc)))
