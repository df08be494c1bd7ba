"""The audit trail: every create, revoke, renew, reveal and link goes to the database and, when
AUDIT_CHANNEL is set, as one line to that Slack channel. Never the secret."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.store import Audit, Store
from bot.text import shown

log = logging.getLogger(__name__)
ANNOUNCED = frozenset({"create", "revoke", "renew", "reveal", "link", "admin link", "admin unlink", "admin revoke",
                       "link takeover", "leak", "link end", "link not me"})
ICONS = {"create": ":key:", "revoke": ":wastebasket:", "renew": ":recycle:", "reveal": ":eyes:", "link": ":link:",
         "link takeover": ":warning:", "leak": ":rotating_light:", "link end": ":scissors:",
         "link not me": ":no_entry:"}


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
