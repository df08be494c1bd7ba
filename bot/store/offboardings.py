"""Deactivations the bot acted on, remembered until the member is reactivated: which teams it removed
them from, and where its notices to admins went (channel and ts, to update them in place). A
reactivation is taken by exactly one caller (across replicas), which undoes what can be undone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from bot.store.base import Repository
from bot.store.schema import Offboarding


@dataclass(frozen=True)
class Offboarded:
    slack_user_id: str
    dataos_user_id: str | None
    deactivated_at: datetime
    reactivated_at: datetime | None
    teams: tuple[str, ...]
    notices: tuple[tuple[str, str], ...]


def _list(text: str | None) -> list[object]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _offboarded(row: Offboarding) -> Offboarded:
    teams = tuple(str(t) for t in _list(row.teams) if isinstance(t, str))
    notices = tuple((str(n[0]), str(n[1])) for n in _list(row.notices)
                    if isinstance(n, list) and len(n) == 2 and all(isinstance(p, str) for p in n))
    return Offboarded(row.slack_user_id, row.dataos_user_id, row.deactivated_at, row.reactivated_at, teams, notices)


class Offboardings(Repository):
    async def deactivated(self, slack_user_id: str, now: datetime) -> None:
        """`slack_user_id` was deactivated: a fresh record, unless one is open already (a repeated event)."""
        async with self.session() as s, s.begin():
            inserted = await s.execute(self._insert(Offboarding).values(
                slack_user_id=slack_user_id, deactivated_at=now, teams="[]", notices="[]",
            ).on_conflict_do_nothing().returning(Offboarding.slack_user_id))
            if inserted.first() is None:
                await s.execute(update(Offboarding).where(
                    Offboarding.slack_user_id == slack_user_id, Offboarding.reactivated_at.is_not(None),
                ).values(deactivated_at=now, reactivated_at=None, dataos_user_id=None, teams="[]", notices="[]"))

    async def note(self, slack_user_id: str, *, dataos_user_id: str | None = None, teams: Sequence[str] = (),
                   notices: Sequence[tuple[str, str]] = ()) -> None:
        """Add to an open record what the deactivation did: the DataOS user it concerned, the teams it
        removed them from, the notices it sent."""
        async with self.session() as s, s.begin():
            row = (await s.execute(select(Offboarding).where(Offboarding.slack_user_id == slack_user_id,
                                                             Offboarding.reactivated_at.is_(None))
                                   .with_for_update())).scalar_one_or_none()
            if row is None:
                return
            if dataos_user_id is not None:
                row.dataos_user_id = dataos_user_id
            if teams:
                row.teams = json.dumps(list(dict.fromkeys([*_list(row.teams), *teams])))
            if notices:
                row.notices = json.dumps([*_list(row.notices), *([c, t] for c, t in notices)])

    async def reactivated(self, slack_user_id: str, now: datetime) -> Offboarded | None:
        """The open record of `slack_user_id`, closed now, to the one caller that closed it; None when there
        is none (nearly every `user_change`: a profile edit of someone never deactivated) or it was taken."""
        async with self.session() as s:  # a read first: most members were never deactivated, and a write costs
            if (await s.execute(select(Offboarding.slack_user_id).where(
                    Offboarding.slack_user_id == slack_user_id, Offboarding.reactivated_at.is_(None)))).first() is None:
                return None
        async with self.session() as s, s.begin():
            closed = await s.execute(update(Offboarding).where(
                Offboarding.slack_user_id == slack_user_id, Offboarding.reactivated_at.is_(None),
            ).values(reactivated_at=now))
            if not getattr(closed, "rowcount", 0):
                return None
            row = (await s.execute(select(Offboarding).where(Offboarding.slack_user_id == slack_user_id)))
            return _offboarded(row.scalar_one())

    async def get(self, slack_user_id: str) -> Offboarded | None:
        async with self.session() as s:
            row = await s.get(Offboarding, slack_user_id)
            return _offboarded(row) if row is not None else None

    async def prune(self, older_than: datetime) -> int:
        """Forget the records of members reactivated before `older_than` (a deactivation still open is kept:
        a reactivation may come at any time)."""
        async with self.session() as s, s.begin():
            result = await s.execute(delete(Offboarding).where(Offboarding.reactivated_at < older_than))
            return int(getattr(result, "rowcount", 0))
