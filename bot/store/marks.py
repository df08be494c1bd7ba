"""Sweep marks: named times the replicas agree on (when discovery last ran), moved by one of them at once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update

from bot.store.base import Repository
from bot.store.schema import SweepMark


class SweepMarks(Repository):
    async def claim_mark(self, name: str, *, now: datetime, older_than: datetime,
                         to: datetime | None = None) -> datetime | None:
        """Move mark `name` to `to` (default `now`) if it is missing or older than `older_than`; returns the
        previous value (or `now` if there was none) to the one caller that moved it, None to everyone else."""
        to = now if to is None else to
        async with self.engine.begin() as conn:
            previous = await conn.scalar(select(SweepMark.at).where(SweepMark.name == name))
            if previous is None:
                inserted = await conn.execute(self._insert(SweepMark).values(name=name, at=to)
                                              .on_conflict_do_nothing())
                return now if getattr(inserted, "rowcount", 0) else None
            moved = await conn.execute(update(SweepMark).where(SweepMark.name == name, SweepMark.at == previous,
                                                               SweepMark.at < older_than).values(at=to))
            return previous if getattr(moved, "rowcount", 0) else None

    async def set_mark(self, name: str, at: datetime) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(SweepMark).where(SweepMark.name == name).values(at=at))

    async def get_mark(self, name: str) -> datetime | None:
        async with self.engine.connect() as conn:
            return await conn.scalar(select(SweepMark.at).where(SweepMark.name == name))

    async def clear_mark(self, name: str) -> bool:
        """Forget mark `name` (the next `claim_mark` of it succeeds again); True if there was one."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(SweepMark).where(SweepMark.name == name))
            return bool(getattr(result, "rowcount", 0))
