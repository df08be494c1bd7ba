"""Revocations a renewal scheduled and the sweep has not carried out yet, as a key list shows them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.store.revocations import ScheduledRevocations
from bot.store.schema import ScheduledRevocation

#: (key name, its expiration in whole seconds, as the renew form carries it) -> when it is to be revoked.
#: The expiration is None for rows from before 0003, which named the key only.
Scheduled = dict[tuple[str, int | None], datetime]


async def pending_revocations(revocations: ScheduledRevocations, dataos_user_id: str) -> Scheduled:
    """The pending revocations of one DataOS user's keys (a handful at most: one per renewal)."""
    async with revocations.session() as s:
        rows = (await s.execute(select(ScheduledRevocation.key_name, ScheduledRevocation.key_expiration,
                                       ScheduledRevocation.revoke_at).where(
            ScheduledRevocation.dataos_user_id == dataos_user_id,
            ScheduledRevocation.state == "pending"))).all()
    found: Scheduled = {}
    for name, expiration, revoke_at in rows:
        key = (name, int(expiration.timestamp()) if expiration is not None else None)
        found[key] = min(revoke_at, found.get(key, revoke_at))
    return found


def revoke_time(scheduled: Scheduled, name: str, expiration: datetime) -> datetime | None:
    """When the key `name` expiring at `expiration` is to be revoked, if a renewal scheduled that."""
    return scheduled.get((name, int(expiration.timestamp()))) or scheduled.get((name, None))
