"""Idempotency claims: one create per submitted form, however often it arrives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from bot.store.audit import Audit, audit_row
from bot.store.base import Repository
from bot.store.schema import IdempotencyKey
from bot.store.sightings import made_now


@dataclass(frozen=True)
class Idempotency:
    key: str
    state: str
    dataos_user_id: str
    key_name: str | None
    key_expiration: datetime | None
    created_at: datetime


class IdempotencyClaims(Repository):
    async def claim_idempotency(self, key: str, dataos_user_id: str, now: datetime,
                                key_name: str | None = None) -> bool:
        """True if this call claimed `key` first; False if someone already has (a double submit). The name of
        the key about to be made is on record before DataOS makes it: a discovery that lists the key at any
        moment after can tell it is the bot's own (`bot.reminders.notices`)."""
        stmt = self._insert(IdempotencyKey).values(
            key=key, created_at=now, updated_at=now, state="pending", dataos_user_id=dataos_user_id,
            key_name=key_name,
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

    async def made_by_bot(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (DataOS user, key name) the bot claimed to make (done, pending or unknown)."""
        if not keys:
            return set()
        users = {u for u, _ in keys}
        async with self.session() as s:
            rows = await s.execute(select(IdempotencyKey.dataos_user_id, IdempotencyKey.key_name).where(
                IdempotencyKey.dataos_user_id.in_(users), IdempotencyKey.key_name.is_not(None)))
            return {(str(u), str(n)) for u, n in rows} & set(keys)

    async def prune_idempotency(self, older_than: datetime) -> int:
        async with self.session() as s, s.begin():
            result = await s.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < older_than))
            return int(getattr(result, "rowcount", 0))

    async def record_created(self, request_id: str, entry: Audit, *, now: datetime) -> None:
        """After DataOS made a key: close its idempotency claim, remember its lifetime, audit it; one commit."""
        assert entry.dataos_user_id and entry.key_name and entry.key_expiration
        async with self.session() as s, s.begin():
            await s.execute(update(IdempotencyKey).where(IdempotencyKey.key == request_id).values(
                state="done", updated_at=now, key_name=entry.key_name, key_expiration=entry.key_expiration))
            await s.execute(made_now(self.engine, entry.dataos_user_id, entry.key_name, entry.key_expiration, now))
            s.add(audit_row(entry))
