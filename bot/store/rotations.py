"""Rotations: where each rotating key goes (`rotation_targets`) and each rotation's progress (`rotations`).

A rotation is one row, moved from step to step by the replica that holds its claim. A claim is a lease:
`claimed_by`/`claimed_at`, renewed by every step it records; a replica that died leaves a claim that
another takes once the lease has passed, and goes on from the step recorded. Every write of a step is
conditional on the claim still being held, so a replica whose lease was taken over stops instead of
acting twice. At most one rotation per application user runs at a time (`active_for` is unique).

Names, dates, versions and Slack ids only: never a key, a hash of it or a Vault token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.base import Repository
from bot.store.schema import RotationRow, RotationTarget


@dataclass(frozen=True)
class Target:
    app_user_id: str
    kind: str  # team | bot
    target: str
    every_hours: int | None
    before_hours: int
    grace_seconds: int
    state: str  # on | failed
    key_name: str | None
    key_expiration: datetime | None
    next_at: datetime | None
    set_by: str
    set_at: datetime
    last_error: str | None = None

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.grace_seconds)


@dataclass(frozen=True)
class Rotation:
    id: int
    app_user_id: str
    kind: str
    target: str
    step: str
    trigger: str
    old_name: str
    old_expiration: datetime
    new_name: str
    new_expiration: datetime | None
    hours: int
    grace_seconds: int
    version_before: int | None
    version: int | None
    announce: str | None
    channel: str | None
    ts: str | None
    revoke_at: datetime | None
    attempts: int
    retry_at: datetime | None
    error: str | None
    successor: str | None
    claimed_by: str | None
    started_at: datetime
    finished_at: datetime | None

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.grace_seconds)


def _target(row: RotationTarget) -> Target:
    return Target(row.app_user_id, row.kind, row.target, row.every_hours, row.before_hours, row.grace_seconds,
                  row.state, row.key_name, row.key_expiration, row.next_at, row.set_by, row.set_at, row.last_error)


def _rotation(row: RotationRow) -> Rotation:
    return Rotation(row.id, row.app_user_id, row.kind, row.target, row.step, row.trigger, row.old_name,
                    row.old_expiration, row.new_name, row.new_expiration, row.hours, row.grace_seconds,
                    row.version_before, row.version, row.announce, row.channel, row.ts, row.revoke_at, row.attempts,
                    row.retry_at, row.error, row.successor, row.claimed_by, row.started_at, row.finished_at)


class Rotations(Repository):
    # ---- targets ---------------------------------------------------------------------------------

    async def target(self, app_user_id: str) -> Target | None:
        async with self.session() as s:
            row = await s.get(RotationTarget, app_user_id)
            return _target(row) if row else None

    async def targets(self) -> list[Target]:
        async with self.session() as s:
            rows = (await s.execute(select(RotationTarget).order_by(RotationTarget.app_user_id))).scalars().all()
            return [_target(r) for r in rows]

    async def due_targets(self, now: datetime) -> list[Target]:
        """Targets whose watched key is due for rotation (or not known yet), and not failed."""
        async with self.session() as s:
            rows = (await s.execute(select(RotationTarget).where(
                RotationTarget.state == "on",
                or_(RotationTarget.next_at.is_(None), RotationTarget.next_at <= now)))).scalars().all()
            return [_target(r) for r in rows]

    async def put_target(self, target: Target, *, now: datetime) -> None:
        """Set (or replace) a target; its state is `on` again and its watched key is as given."""
        values: dict[str, Any] = {
            "kind": target.kind, "target": target.target, "every_hours": target.every_hours,
            "before_hours": target.before_hours, "grace_seconds": target.grace_seconds, "state": target.state,
            "key_name": target.key_name, "key_expiration": target.key_expiration, "next_at": target.next_at,
            "set_by": target.set_by, "updated_at": now, "last_error": target.last_error}
        for _attempt in range(2):
            async with self.session() as s, s.begin():
                result = await s.execute(update(RotationTarget)
                                         .where(RotationTarget.app_user_id == target.app_user_id).values(**values))
                if getattr(result, "rowcount", 0):
                    return
            try:
                async with self.session() as s, s.begin():
                    s.add(RotationTarget(app_user_id=target.app_user_id, set_at=target.set_at, **values))
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"the rotation of {target.app_user_id} could not be stored")

    async def remove_target(self, app_user_id: str) -> bool:
        async with self.session() as s, s.begin():
            result = await s.execute(delete(RotationTarget).where(RotationTarget.app_user_id == app_user_id))
            return bool(getattr(result, "rowcount", 0))

    async def watch(self, app_user_id: str, *, key_name: str, key_expiration: datetime, next_at: datetime,
                    now: datetime, state: str = "on", error: str | None = None) -> None:
        """The key a target watches now, and when it is due."""
        async with self.session() as s, s.begin():
            await s.execute(update(RotationTarget).where(RotationTarget.app_user_id == app_user_id).values(
                key_name=key_name, key_expiration=key_expiration, next_at=next_at, state=state, updated_at=now,
                last_error=error))

    async def fail_target(self, app_user_id: str, *, error: str, now: datetime) -> None:
        """A rotation failed for good: the target waits for a person (Retry, or a renew by hand)."""
        async with self.session() as s, s.begin():
            await s.execute(update(RotationTarget).where(RotationTarget.app_user_id == app_user_id).values(
                state="failed", last_error=error[:500], updated_at=now))

    # ---- rotations -------------------------------------------------------------------------------

    async def start(self, *, app_user_id: str, kind: str, target: str, trigger: str, old_name: str,
                    old_expiration: datetime, new_name: str, hours: int, grace_seconds: int,
                    now: datetime) -> Rotation | None:
        """A new rotation at its first step; None when one is already running for that application user
        (started by another replica, or a double press)."""
        row = RotationRow(app_user_id=app_user_id, active_for=app_user_id, kind=kind, target=target, step="create",
                          trigger=trigger[:64], old_name=old_name, old_expiration=old_expiration, new_name=new_name,
                          hours=hours, grace_seconds=grace_seconds, attempts=0, started_at=now, updated_at=now)
        try:
            async with self.session() as s, s.begin():
                s.add(row)
                await s.flush()
                return _rotation(row)
        except IntegrityError:
            return None

    async def get(self, rotation_id: int) -> Rotation | None:
        async with self.session() as s:
            row = await s.get(RotationRow, rotation_id)
            return _rotation(row) if row else None

    async def active(self, app_user_id: str) -> Rotation | None:
        async with self.session() as s:
            row = (await s.execute(select(RotationRow).where(RotationRow.active_for == app_user_id))).scalar()
            return _rotation(row) if row else None

    async def history(self, app_user_id: str, limit: int = 5) -> list[Rotation]:
        async with self.session() as s:
            rows = (await s.execute(select(RotationRow).where(RotationRow.app_user_id == app_user_id)
                                    .order_by(RotationRow.id.desc()).limit(limit))).scalars().all()
            return [_rotation(r) for r in rows]

    async def runnable(self, now: datetime, lease: timedelta) -> list[Rotation]:
        """Running rotations that may be taken now: not held by a live lease, not waiting for a retry, and
        (in their grace) whose revoke time has come."""
        async with self.session() as s:
            rows = (await s.execute(select(RotationRow).where(
                RotationRow.active_for.is_not(None),
                or_(RotationRow.claimed_by.is_(None), RotationRow.claimed_at < now - lease),
                or_(RotationRow.retry_at.is_(None), RotationRow.retry_at <= now),
                or_(RotationRow.step != "grace", RotationRow.revoke_at <= now),
            ).order_by(RotationRow.id))).scalars().all()
            return [_rotation(r) for r in rows]

    async def claim(self, rotation_id: int, *, worker: str, now: datetime, lease: timedelta) -> Rotation | None:
        """Take a rotation for `worker`; None if another holds a live lease on it, or it has ended."""
        async with self.session() as s, s.begin():
            result = await s.execute(update(RotationRow).where(
                RotationRow.id == rotation_id, RotationRow.active_for.is_not(None),
                or_(RotationRow.claimed_by.is_(None), RotationRow.claimed_by == worker,
                    RotationRow.claimed_at < now - lease),
            ).values(claimed_by=worker, claimed_at=now))
            if not getattr(result, "rowcount", 0):
                return None
            row = await s.get(RotationRow, rotation_id)
            return _rotation(row) if row else None

    async def advance(self, rotation_id: int, *, worker: str, now: datetime, **values: Any) -> bool:
        """Record a step's outcome, only while `worker` still holds the claim (its lease renewed); False
        if the claim was taken over meanwhile (the caller stops)."""
        async with self.session() as s, s.begin():
            result = await s.execute(update(RotationRow).where(
                RotationRow.id == rotation_id, RotationRow.claimed_by == worker, RotationRow.active_for.is_not(None),
            ).values(**{"claimed_at": now, "updated_at": now, **values}))
            return bool(getattr(result, "rowcount", 0))

    async def release(self, rotation_id: int, *, worker: str, now: datetime, **values: Any) -> bool:
        """Let go of the claim (to wait for a retry, or for the grace), recording `values`."""
        return await self.advance(rotation_id, worker=worker, now=now, claimed_by=None, claimed_at=None, **values)

    async def finish(self, rotation_id: int, *, worker: str, now: datetime, step: str, **values: Any) -> bool:
        """End a rotation (`done` or `failed`): another may start for that application user."""
        return await self.advance(rotation_id, worker=worker, now=now, step=step, active_for=None, claimed_by=None,
                                  claimed_at=None, finished_at=now, **values)

    async def abandon(self, app_user_id: str, *, now: datetime, error: str) -> bool:
        """End whatever rotation runs for `app_user_id` whoever holds it (its rotation was turned off)."""
        async with self.session() as s, s.begin():
            result = await s.execute(update(RotationRow).where(
                and_(RotationRow.active_for == app_user_id)).values(
                step="failed", active_for=None, claimed_by=None, claimed_at=None, finished_at=now, updated_at=now,
                error=error[:500]))
            return bool(getattr(result, "rowcount", 0))
