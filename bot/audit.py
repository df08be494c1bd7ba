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
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.identity import failure
from bot.store import Audit, AuditLog
from bot.text import shown

log = logging.getLogger(__name__)
ANNOUNCED = frozenset({"create", "revoke", "renew", "reveal", "link", "admin link", "admin unlink", "admin revoke",
                       "link takeover", "leak", "link end", "link not me", "admin team", "admin team remove",
                       "team leave"})
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


#: Outcomes as the trail stores them (short codes, for queries) and as a person reads them.
OUTCOMES = {
    "ok": "done",
    "no-link": "nothing to undo: there was no explicit link",
    "failed": "failed",
    "told": "the person it displaced was told",
    "not told": "the person it displaced could not be told",
    "skipped: key changed": "skipped: a different key has that name now",
    "error:no-value": "failed: DataOS did not return the key's value",
    "refused:invalid-key": "refused: DataOS did not accept the pasted key",
    "refused:unknown-user": "refused: DataOS has no such user",
    "refused:operator": "refused: that is the bot's own DataOS user",
    "refused:application": "refused: that is an application user, not a person",
    "refused:guest": "refused: a guest account (ALLOW_GUESTS is off)",
    "refused:other_org": "refused: a member of another organisation",
    "refused:deactivated": "refused: a deactivated Slack account",
    "refused:bot": "refused: a bot or app",
    "refused:unavailable": "refused: Slack could not say who it is just now",
    "refused:leaked-key": "refused: that key was seen pasted in a channel",
    "refused:unknown-key": "refused: the bot could not tell which key it was",
    "refused:not displaced": "refused: only the person it displaced may say so",
    # `admin team` and the team owners' actions (bot.slack.teams)
    "refused:person": "refused: that is a person, not an application user",
    "refused:not-application": "refused: DataOS does not call that user an application user",
    "refused:unreadable": "refused: a word that is no #channel, @person or @group",
    "refused:unescaped": "refused: Slack sent #channel or @name as typed (the command's escaping is off)",
    "refused:two-channels": "refused: more than one channel named",
    "refused:no-channel": "refused: no channel the bot can see",
    "refused:no-owner": "refused: no owner named",
    "refused:archived": "refused: the channel is archived",
    "refused:not-in-channel": "refused: the bot is not in the channel",
    "refused:channel": "refused: Slack would not describe the channel",
    "refused:group": "refused: Slack would not say who is in the user group",
    "refused:not-owner": "refused: not an owner of that application user's team",
    "ended: key revoked": "ended: the key that proved it was revoked",
    "ended: key gone": "ended: the key that proved it is gone from DataOS",
    "ended: key changed": "ended: the key that proved it was replaced in DataOS",
    "ended: key expired": "ended: the key that proved it expired",
    "ended: key leaked": "ended: the key that proved it was posted in a channel",
    "ended: not me": "ended: the person it displaced said it was not theirs to take",
    "ended: no proof": "ended: made before the bot kept the key that proved it",
}
_STATUS_WORDS = {
    400: "refused by DataOS as invalid",
    401: "failed: DataOS did not accept the bot's own key",
    403: "failed: the bot may not manage this user's keys",
    404: "failed: DataOS has no such key",
    409: "refused by DataOS: a key with that name exists",
}
_ID = r"([UW][A-Z0-9]{2,31})"
_MAPPED = {"e-mail": "by e-mail", "self link": "by their own link", "admin link": "by an admin's link"}
_DETAILS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(rf"^slack user {_ID} over {_ID} \((.{{1,40}})\)$"),
     lambda m: f"(<@{m[1]}> now acts as this DataOS user instead of <@{m[2]}>, who was mapped "
               f"{_MAPPED.get(m[3]) or 'by ' + shown(m[3])})"),
    (re.compile(rf"^slack user {_ID}$"), lambda m: f"for <@{m[1]}>"),
    (re.compile(rf"^slack user {_ID}; (told|not told)$"),
     lambda m: f"for <@{m[1]}>, who {'was told' if m[2] == 'told' else 'could not be told'}"),
    (re.compile(rf"^offboarding {_ID}$"), lambda m: f"(offboarding <@{m[1]}>)"),
]


def outcome_words(outcome: str) -> str:
    """`error:409` -> `refused by DataOS: a key with that name exists`: what the code means."""
    if outcome in OUTCOMES:
        return OUTCOMES[outcome]
    code = outcome.removeprefix("error:")
    if code != outcome:
        if code.isascii() and code.isdigit():
            status = int(code)
            return _STATUS_WORDS.get(status) or (f"failed: DataOS was unavailable ({status})" if status == 429
                                                 or status >= 500 else f"failed: DataOS answered {status}")
        return ("failed: DataOS did not answer" if code == "DataOSUnavailable"
                else "failed: DataOS answered with an error")
    return shown(outcome, 60)


def detail_words(detail: str) -> str | None:
    """The detail of an entry when it names someone, with Slack users as mentions (shown as names)."""
    for pattern, words in _DETAILS:
        match = pattern.match(detail)
        if match:
            return words(match)
    return None


def audit_line(entry: Audit, *, icon: bool = True) -> str:
    """`:key: <@U1> create `ci_loader` of `alice` (expires …) → done`: who, whose key, which, expiry,
    for whom, outcome."""
    parts = [ICONS.get(entry.action.removeprefix("admin "), ":memo:")] if icon else []
    parts += [f"<@{shown(entry.actor_slack_id, 32)}>", shown(entry.action, 32)]
    if entry.key_name:
        parts.append(f"`{shown(entry.key_name)}`")
    if entry.dataos_user_id:
        parts.append(f"of `{shown(entry.dataos_user_id)}`")
    if entry.key_expiration:
        stamp = int(entry.key_expiration.timestamp())
        parts.append(f"(expires <!date^{stamp}^{{date_short}}|{entry.key_expiration:%Y-%m-%d}>)")
    who = detail_words(entry.detail) if entry.detail else None
    if who:
        parts.append(who)
    parts.append(f"→ {outcome_words(entry.outcome)}")
    return " ".join(parts)


def channel_problem(error: str) -> str:
    """Slack's error for a post to the audit channel, with what to do about it if there is something."""
    fix = CHANNEL_FIXES.get(error)
    return f"{error}: {fix}" if fix else error


@contextlib.asynccontextmanager
async def _untracked() -> AsyncIterator[None]:
    yield


class AuditTrail:
    def __init__(self, log: AuditLog, slack: AsyncWebClient, channel: str | None, *,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
                 monotonic: Callable[[], float] = time.monotonic,
                 work: Callable[[], contextlib.AbstractAsyncContextManager[None]] = _untracked) -> None:
        self.log = log
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
            await self.log.audit(entry)
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
