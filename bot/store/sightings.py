"""Key sightings: every key the bot knows of, when it was first seen, muted or snoozed; and the state a
sweep reads once at its start."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.base import Repository, insert_for
from bot.store.ledger import FINAL_STATES, KeyId
from bot.store.schema import KeySighting, ReminderLedger, SweptUser, UserPrefs


@dataclass(frozen=True, slots=True)  # a tick holds one per known key: tens of thousands
class Sighting:
    dataos_user_id: str
    key_name: str
    expiration: datetime
    first_seen: datetime
    created_at: datetime | None = None
    muted: bool = False
    snoozed_until: datetime | None = None
    preexisting: bool = False

    @property
    def key(self) -> KeyId:
        return (self.dataos_user_id, self.key_name, self.expiration)


@dataclass
class ReminderState:
    """What a sweep needs from the database, read once at its start."""

    sightings: dict[KeyId, Sighting]
    sent: dict[KeyId, set[str]]
    swept: set[str]
    disabled: set[str]  # Slack users who turned reminders off
    active: set[str]  # Slack users who have used the bot


class KeySightings(Repository):
    async def note_key_created(self, dataos_user_id: str, key_name: str, expiration: datetime, now: datetime) -> None:
        """The bot made this key now: its lifetime is known exactly."""
        async with self.session() as s, s.begin():
            await s.execute(made_now(self.engine, dataos_user_id, key_name, expiration, now))

    async def load_reminder_state(self, since: datetime, until: datetime | None = None) -> ReminderState:
        """Sightings and sent steps of keys expiring after `since` (and, for a tick, by `until`: a key further
        from expiry than the ladder's first step cannot be due), swept users, and preferences."""
        window = [KeySighting.expiration > since] + ([KeySighting.expiration <= until] if until else [])
        sent_window = [ReminderLedger.expiration > since] + ([ReminderLedger.expiration <= until] if until else [])
        async with self.session() as s:
            # Core rows, not ORM entities: a tick reads every known key, and entity loading cost seconds.
            columns = (KeySighting.dataos_user_id, KeySighting.key_name, KeySighting.expiration,
                       KeySighting.first_seen, KeySighting.created_at, KeySighting.muted, KeySighting.snoozed_until,
                       KeySighting.preexisting)
            sightings = {(row[0], row[1], row[2]): Sighting(*row)
                         for row in await s.execute(select(*columns).where(*window))}
            sent: dict[KeyId, set[str]] = {}
            rows = await s.execute(
                select(ReminderLedger.dataos_user_id, ReminderLedger.key_name, ReminderLedger.expiration,
                       ReminderLedger.step).where(*sent_window, ReminderLedger.state.in_(FINAL_STATES))
            )
            for uid, name, exp, step in rows:
                sent.setdefault((uid, name, exp), set()).add(step)
            swept = set((await s.scalars(select(SweptUser.dataos_user_id))).all())
            prefs = (await s.execute(select(UserPrefs.slack_user_id, UserPrefs.reminders_enabled))).all()
        return ReminderState(sightings, sent, swept, {u for u, on in prefs if not on}, {u for u, _ in prefs})

    async def listed_at(self) -> dict[str, datetime | None]:
        """When each swept person's keys were last listed (a budgeted discovery lists the longest ago first)."""
        async with self.session() as s:
            return {uid: at for uid, at in await s.execute(select(SweptUser.dataos_user_id, SweptUser.listed_at))}

    async def save_sightings(self, sightings: Sequence[Sighting]) -> None:
        await self.save_sweep_progress(sightings, [], None)

    async def save_sweep_progress(self, sightings: Sequence[Sighting], swept: Sequence[str],
                                  now: datetime | None, *, listed: Sequence[str] = (),
                                  gone: Sequence[KeyId] = ()) -> None:
        """One transaction: keys seen for the first time, users swept for the first time, users whose keys
        were just listed (`listed_at`), and keys that a listing showed are gone."""
        if not sightings and not swept and not listed and not gone:
            return
        async with self.session() as s, s.begin():
            # Core executemany, not ORM entities nor one multi-row VALUES: the statement is compiled
            # once (and cached), and the driver sends the rows in bulk. A 500-row VALUES list was
            # compiled afresh for every batch, which cost more CPU than the DataOS calls.
            conn = await s.connection()
            if sightings:
                await conn.execute(self._insert(KeySighting.__table__).on_conflict_do_nothing(), [
                    {"dataos_user_id": x.dataos_user_id, "key_name": x.key_name, "expiration": x.expiration,
                     "first_seen": x.first_seen, "created_at": x.created_at, "muted": x.muted,
                     "snoozed_until": x.snoozed_until, "preexisting": x.preexisting}
                    for x in sightings
                ])
            if swept:
                assert now is not None
                await conn.execute(self._insert(SweptUser.__table__).on_conflict_do_nothing(),
                                   [{"dataos_user_id": u, "first_swept_at": now, "listed_at": now} for u in swept])
            if listed:
                assert now is not None
                table = cast(Table, SweptUser.__table__)
                await conn.execute(update(table).where(table.c.dataos_user_id == bindparam("uid"))
                                   .values(listed_at=now), [{"uid": u} for u in listed])
            if gone:
                table = cast(Table, KeySighting.__table__)
                await conn.execute(delete(table).where(
                    table.c.dataos_user_id == bindparam("uid"), table.c.key_name == bindparam("name"),
                    table.c.expiration == bindparam("exp")), [{"uid": u, "name": n, "exp": e} for u, n, e in gone])

    async def record_listing(self, dataos_user_id: str, keys: Sequence[tuple[str, datetime]], now: datetime) -> None:
        """A complete listing of one person's keys, from a user action: the record follows it (new keys
        added, keys no longer listed forgotten, `listed_at` moved) without an extra DataOS call."""
        async with self.session() as s:
            rows = await s.execute(select(KeySighting.key_name, KeySighting.expiration).where(
                KeySighting.dataos_user_id == dataos_user_id, KeySighting.expiration > now))
            known = {(name, exp) for name, exp in rows}
            swept = await s.get(SweptUser, dataos_user_id) is not None
        live = {(name, exp) for name, exp in keys if exp > now}
        new = [Sighting(dataos_user_id, name, exp, first_seen=now, preexisting=not swept)
               for name, exp in live - known]
        gone = [(dataos_user_id, name, exp) for name, exp in known - live]
        await self.save_sweep_progress(new, [] if swept else [dataos_user_id], now,
                                       listed=[dataos_user_id] if swept else [], gone=gone)

    async def record_key(self, dataos_user_id: str, name: str, expiration: datetime, now: datetime) -> None:
        """One key seen by a user action (a reveal): recorded if the record did not know it."""
        async with self.session() as s:
            swept = await s.get(SweptUser, dataos_user_id) is not None
        await self.save_sightings([Sighting(dataos_user_id, name, expiration, first_seen=now, preexisting=not swept)])

    async def forget_sighting(self, key: KeyId) -> None:
        """A key the bot revoked: no reminder can be due for it any more."""
        await self.save_sweep_progress([], [], None, gone=[key])

    async def oldest_listing(self) -> datetime | None:
        """When the least recently listed person's keys were listed: the age of the record."""
        async with self.session() as s:
            return await s.scalar(select(func.min(SweptUser.listed_at)))

    async def update_sighting(self, key: KeyId, *, now: datetime, muted: bool | None = None,
                              snoozed_until: datetime | None = None) -> None:
        """Mute or snooze one key (creating its sighting if the sweep has not seen it)."""
        uid, name, exp = key
        changes: dict[str, Any] = {}
        if muted is not None:
            changes["muted"] = muted
        if snoozed_until is not None:
            changes["snoozed_until"] = snoozed_until
        stmt = self._insert(KeySighting).values(
            dataos_user_id=uid, key_name=name, expiration=exp, first_seen=now, muted=bool(muted),
            snoozed_until=snoozed_until, preexisting=True,
        ).on_conflict_do_update(
            index_elements=[KeySighting.dataos_user_id, KeySighting.key_name, KeySighting.expiration], set_=changes)
        async with self.session() as s, s.begin():
            await s.execute(stmt)

    async def get_sighting(self, key: KeyId) -> Sighting | None:
        async with self.session() as s:
            row = await s.get(KeySighting, key)
            return _sighting(row) if row else None


def made_now(engine: AsyncEngine, dataos_user_id: str, key_name: str, expiration: datetime, now: datetime) -> Any:
    """The statement recording a key the bot made now (also run inside another repository's transaction)."""
    return insert_for(engine, KeySighting).values(
        dataos_user_id=dataos_user_id, key_name=key_name, expiration=expiration, first_seen=now,
        created_at=now, muted=False,
    ).on_conflict_do_nothing()


def _sighting(r: KeySighting) -> Sighting:
    return Sighting(r.dataos_user_id, r.key_name, r.expiration, r.first_seen, r.created_at, r.muted,
                    r.snoozed_until, r.preexisting)

