"""The audit trail: every create, revoke, renew, reveal and link goes to the database and, when
AUDIT_CHANNEL is set, as one line to that Slack channel. Never the secret."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from slack_sdk.web.async_client import AsyncWebClient

from bot.store import Audit, Store
from bot.text import shown

log = logging.getLogger(__name__)
ANNOUNCED = frozenset({"create", "revoke", "renew", "reveal", "link", "admin link", "admin unlink", "admin revoke",
                       "link takeover", "leak"})
ICONS = {"create": ":key:", "revoke": ":wastebasket:", "renew": ":recycle:", "reveal": ":eyes:", "link": ":link:",
         "link takeover": ":warning:", "leak": ":rotating_light:"}


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


class AuditTrail:
    def __init__(self, store: Store, slack: AsyncWebClient, channel: str | None) -> None:
        self.store = store
        self.slack = slack
        self.channel = channel

    async def record(self, entry: Audit) -> None:
        """Write the entry, then announce it. A failure is logged: the action itself already happened."""
        try:
            await self.store.audit(entry)
        except Exception:
            log.exception("could not write the audit entry for %s %s", entry.action, entry.key_name)
        await self.announce(entry)

    async def announce(self, entry: Audit) -> None:
        if not self.channel or entry.action not in ANNOUNCED:
            return
        try:
            await self.slack.chat_postMessage(channel=self.channel, text=audit_line(entry), unfurl_links=False)
        except Exception as exc:
            log.warning("could not post to the audit channel: %s", type(exc).__name__)
