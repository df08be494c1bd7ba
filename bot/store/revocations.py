"""Revocations a renewal scheduled: carried out once each when they fall due.

States: `pending` (due from `revoke_at`), `running` (a claimer has it, until its lease runs out: one
killed mid-revocation, by a deploy or a crash, leaves it to be taken again), `done`, `skipped` (the key
changed meanwhile: a later key of the same name is never touched) and `failed` (given up after a
bounded number of attempts; its owners and the admins are told, with a button that revokes it now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update

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
    attempts: int = 0
    error: str | None = None


#: How long a given-up revocation of a key whose expiration is unknown keeps being told about.
UNKNOWN_EXPIRY_TOLD = timedelta(days=7)


def _revocation(r: ScheduledRevocation) -> Revocation:
    return Revocation(r.id, r.dataos_user_id, r.key_name, r.revoke_at, r.requested_by, r.key_expiration,
                      r.attempts or 0, r.error)


def _takeable(now: datetime, lease: timedelta) -> ColumnElement[bool]:
    """Due and free: pending, or running under a claim whose lease has passed (or that has none: a row
    left `running` before claims had leases)."""
    return or_(
        and_(ScheduledRevocation.state == "pending", ScheduledRevocation.revoke_at <= now),
        and_(ScheduledRevocation.state == "running",
             or_(ScheduledRevocation.claimed_at.is_(None), ScheduledRevocation.claimed_at < now - lease)),
    )


class ScheduledRevocations(Repository):
    async def schedule_revocation(self, dataos_user_id: str, key_name: str, *, key_expiration: datetime,
                                  revoke_at: datetime, requested_by: str, now: datetime) -> None:
        async with self.session() as s, s.begin():
            s.add(ScheduledRevocation(dataos_user_id=dataos_user_id, key_name=key_name, key_expiration=key_expiration,
                                      revoke_at=revoke_at, requested_by=requested_by, state="pending",
                                      created_at=now, attempts=0))

    async def due_revocations(self, now: datetime, lease: timedelta) -> list[Revocation]:
        """Those due now, and those whose claimer went away (its lease has passed)."""
        async with self.session() as s:
            rows = (await s.scalars(select(ScheduledRevocation).where(_takeable(now, lease))
                                    .order_by(ScheduledRevocation.id))).all()
        return [_revocation(r) for r in rows]

    async def take_revocation(self, revocation_id: int, *, now: datetime, worker: str,
                              lease: timedelta) -> int | None:
        """Claim a due revocation for `worker` until `now + lease`; how many times it has been claimed
        (this time included) to exactly one caller, None to everyone else."""
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(ScheduledRevocation)
                .where(ScheduledRevocation.id == revocation_id, _takeable(now, lease))
                .values(state="running", claimed_at=now, claimed_by=worker,
                        attempts=ScheduledRevocation.attempts + 1)
                .returning(ScheduledRevocation.attempts)
            )
            attempts = result.scalar()
            return None if attempts is None else int(attempts)

    async def finish_revocation(self, revocation_id: int, state: str, *, worker: str,
                                error: str | None = None) -> bool:
        """Record the outcome of `worker`'s claim (`pending` again to be retried); False when the claim was
        taken over meanwhile (its lease passed), and the new claimer decides."""
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(ScheduledRevocation)
                .where(ScheduledRevocation.id == revocation_id, ScheduledRevocation.state == "running",
                       ScheduledRevocation.claimed_by == worker)
                .values(state=state, error=error and error[:64], claimed_at=None, claimed_by=None))
            return bool(getattr(result, "rowcount", 0))

    async def given_up(self, now: datetime) -> list[Revocation]:
        """Revocations given up on whose key has not expired yet: people are (still) to be told."""
        async with self.session() as s:
            rows = (await s.scalars(select(ScheduledRevocation).where(
                ScheduledRevocation.state == "failed",
                # (a schedule from before exact keys has no expiration: told about for a week)
                or_(ScheduledRevocation.key_expiration > now,
                    and_(ScheduledRevocation.key_expiration.is_(None),
                         ScheduledRevocation.revoke_at > now - UNKNOWN_EXPIRY_TOLD)))
                .order_by(ScheduledRevocation.id))).all()
        return [_revocation(r) for r in rows]

    async def settle(self, dataos_user_id: str, key_name: str, key_expiration: datetime) -> int:
        """The key was revoked by hand (or found gone): its given-up or pending revocations are done."""
        async with self.session() as s, s.begin():
            result = await s.execute(
                update(ScheduledRevocation)
                .where(ScheduledRevocation.dataos_user_id == dataos_user_id,
                       ScheduledRevocation.key_name == key_name,
                       ScheduledRevocation.key_expiration == key_expiration,
                       ScheduledRevocation.state.in_(("pending", "failed")))
                .values(state="done"))
            return int(getattr(result, "rowcount", 0))
