"""Repository: every query the bot makes, as small async methods over one engine.

Rows come back as frozen dataclasses so nothing outside this module holds a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store.schema import AuditEntry, IdempotencyKey, IdentityLink, KeySighting, UserPrefs


@dataclass(frozen=True)
class Link:
    slack_user_id: str
    dataos_user_id: str
    method: str
    linked_by: str
    created_at: datetime


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


@dataclass(frozen=True)
class Idempotency:
    key: str
    state: str
    dataos_user_id: str
    key_name: str | None
    key_expiration: datetime | None
    created_at: datetime


class Store:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self._sessions()

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT on both SQLite and PostgreSQL."""
        dialect = self.engine.dialect.name
        return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # ---- identity links ---------------------------------------------------------------------

    async def get_link(self, slack_user_id: str) -> Link | None:
        async with self.session() as s:
            row = await s.get(IdentityLink, slack_user_id)
            return _link(row) if row else None

    async def set_link(
        self, slack_user_id: str, dataos_user_id: str, *, method: str, linked_by: str, now: datetime
    ) -> None:
        values = {
            "slack_user_id": slack_user_id, "dataos_user_id": dataos_user_id,
            "method": method, "linked_by": linked_by, "created_at": now,
        }
        stmt = self._insert(IdentityLink).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[IdentityLink.slack_user_id],
            set_={k: v for k, v in values.items() if k != "slack_user_id"},
        )
        async with self.session() as s, s.begin():
            await s.execute(stmt)

    async def delete_link(self, slack_user_id: str) -> bool:
        async with self.session() as s, s.begin():
            result = await s.execute(delete(IdentityLink).where(IdentityLink.slack_user_id == slack_user_id))
            return bool(getattr(result, "rowcount", 0))

    async def links(self) -> list[Link]:
        async with self.session() as s:
            rows = (await s.scalars(select(IdentityLink))).all()
            return [_link(r) for r in rows]

    # ---- audit ------------------------------------------------------------------------------

    async def audit(self, entry: Audit) -> None:
        async with self.session() as s, s.begin():
            s.add(AuditEntry(
                at=entry.at, actor_slack_id=entry.actor_slack_id, dataos_user_id=entry.dataos_user_id,
                action=entry.action, key_name=entry.key_name, key_expiration=entry.key_expiration,
                outcome=entry.outcome, detail=(entry.detail or None) and entry.detail[:500],
            ))

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

    # ---- idempotency ------------------------------------------------------------------------

    async def claim_idempotency(self, key: str, dataos_user_id: str, now: datetime) -> bool:
        """True if this call claimed `key` first; False if someone already has (a double submit)."""
        stmt = self._insert(IdempotencyKey).values(
            key=key, created_at=now, updated_at=now, state="pending", dataos_user_id=dataos_user_id,
        ).on_conflict_do_nothing(index_elements=[IdempotencyKey.key])
        async with self.session() as s, s.begin():
            result = await s.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def finish_idempotency(
        self, key: str, *, state: str, now: datetime, key_name: str | None = None,
        key_expiration: datetime | None = None,
    ) -> None:
        async with self.session() as s, s.begin():
            await s.execute(
                update(IdempotencyKey).where(IdempotencyKey.key == key).values(
                    state=state, updated_at=now, key_name=key_name, key_expiration=key_expiration,
                )
            )

    async def release_idempotency(self, key: str) -> None:
        """Forget a claim whose create failed before anything changed, so the user can retry."""
        async with self.session() as s, s.begin():
            await s.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key))

    async def get_idempotency(self, key: str) -> Idempotency | None:
        async with self.session() as s:
            row = await s.get(IdempotencyKey, key)
            if row is None:
                return None
            return Idempotency(row.key, row.state, row.dataos_user_id, row.key_name, row.key_expiration,
                               row.created_at)

    async def prune_idempotency(self, older_than: datetime) -> int:
        async with self.session() as s, s.begin():
            result = await s.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than))
            return int(getattr(result, "rowcount", 0))

    # ---- key sightings -----------------------------------------------------------------------

    async def note_key_created(self, dataos_user_id: str, key_name: str, expiration: datetime, now: datetime) -> None:
        """The bot made this key now: its lifetime is known exactly."""
        stmt = self._insert(KeySighting).values(
            dataos_user_id=dataos_user_id, key_name=key_name, expiration=expiration, first_seen=now,
            created_at=now, muted=False,
        ).on_conflict_do_nothing()
        async with self.session() as s, s.begin():
            await s.execute(stmt)

    # ---- user preferences -------------------------------------------------------------------

    async def touch_user(self, slack_user_id: str, now: datetime) -> None:
        """Remember that this person has used the bot (first use only)."""
        stmt = self._insert(UserPrefs).values(
            slack_user_id=slack_user_id, reminders_enabled=True, first_used_at=now
        ).on_conflict_do_nothing(index_elements=[UserPrefs.slack_user_id])
        async with self.session() as s, s.begin():
            await s.execute(stmt)

    async def count(self, table: Any) -> int:
        async with self.session() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)


def _link(row: IdentityLink) -> Link:
    return Link(row.slack_user_id, row.dataos_user_id, row.method, row.linked_by, row.created_at)
