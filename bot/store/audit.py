"""The audit log: who did what to which key, and how it ended."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.store.base import Repository
from bot.store.schema import AuditEntry


@dataclass(frozen=True)
class Audit:
    at: datetime
    actor_slack_id: str
    action: str
    outcome: str
    dataos_user_id: str | None = None
    key_name: str | None = None
    key_expiration: datetime | None = None
    detail: str | None = None


class AuditLog(Repository):
    async def audit(self, entry: Audit) -> None:
        async with self.session() as s, s.begin():
            s.add(audit_row(entry))

    async def recent_audit(
        self, *, since: datetime, actor_slack_id: str | None = None, dataos_user_id: str | None = None,
        limit: int = 50,
    ) -> list[Audit]:
        stmt = select(AuditEntry).where(AuditEntry.at >= since)
        if actor_slack_id:
            stmt = stmt.where(AuditEntry.actor_slack_id == actor_slack_id)
        if dataos_user_id:
            stmt = stmt.where(AuditEntry.dataos_user_id == dataos_user_id)
        stmt = stmt.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
        async with self.session() as s:
            rows: Sequence[AuditEntry] = (await s.scalars(stmt)).all()
        return [
            Audit(at=r.at, actor_slack_id=r.actor_slack_id, action=r.action, outcome=r.outcome,
                  dataos_user_id=r.dataos_user_id, key_name=r.key_name, key_expiration=r.key_expiration,
                  detail=r.detail)
            for r in rows
        ]


def audit_row(entry: Audit) -> AuditEntry:
    """The row of one entry (also written by other repositories inside their own transaction)."""
    return AuditEntry(
        at=entry.at, actor_slack_id=entry.actor_slack_id, dataos_user_id=entry.dataos_user_id,
        action=entry.action, key_name=entry.key_name, key_expiration=entry.key_expiration,
        outcome=entry.outcome, detail=(entry.detail or None) and entry.detail[:500],
    )
