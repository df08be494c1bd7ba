"""Revocations a renewal scheduled: carried out once each by the sweep when they fall due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bot.store.base import Repository
from bot.store.schema import ScheduledRevocation


@dataclass(frozen=True)
class Revocation:
    id: int
    dataos_user_id: str
    key_name: str
    revoke_at: datetime
    requested_by: str
    key_expiration: datetime | None = None



class ScheduledRevocations(Repository):
    async def schedule_revocation(self, dataos_user_id: str, key_name: str, *, key_expiration: datetime,
                                  revoke_at: datetime, requested_by: str, now: datetime) -> None:
        async with self.session() as s, s.begin():
            s.add(ScheduledRevocation(dataos_user_id=dataos_user_id, key_name=key_name, key_expiration=key_expiration,
                                      revoke_at=revoke_at, requested_by=requested_by, state="pending",
                                      created_at=now))

    async def due_revocations(self, now: datetime) -> list[Revocation]:
        async with self.session() as s:
            rows = (await s.scalars(select(ScheduledRevocation).where(
                ScheduledRevocation.state == "pending", ScheduledRevocation.revoke_at <= now))).all()
        return [Revocation(r.id, r.dataos_user_id, r.key_name, r.revoke_at, r.requested_by, r.key_expiration)
                for r in rows]

    async def take_revocation(self, revocation_id: int) -> bool:
        """Mark a due revocation as being carried out; True for exactly one caller."""
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(ScheduledRevocation)
                .where(ScheduledRevocation.id == revocation_id, ScheduledRevocation.state == "pending")
                .values(state="running")
            )
            return bool(getattr(result, "rowcount", 0))

    async def finish_revocation(self, revocation_id: int, state: str) -> None:
        async with self.session() as s, s.begin():
            await s.execute(update(ScheduledRevocation).where(ScheduledRevocation.id == revocation_id)
                            .values(state=state))
