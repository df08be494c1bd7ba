"""Repository: every query the bot makes, as small async methods over one engine.

Rows come back as frozen dataclasses so nothing outside this module holds a session.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.store.ledger import FINAL_STATES, KeyId, LedgerStore
from bot.store.links import LinkRepository
from bot.store.schema import (
    AuditEntry,
    IdempotencyKey,
    KeySighting,
    ReminderLedger,
    ScheduledRevocation,
    SlackEvent,
    SlackMember,
    SweepMark,
    SweptUser,
    UserPrefs,
)


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


@dataclass(frozen=True)
class Member:
    """What reminders need of a Slack member: who, their e-mail (for matching) and time zone."""

    slack_user_id: str
    email: str | None
    tz: str | None
    tz_offset: int
    name: str | None
    guest: bool = False

    def row(self) -> dict[str, Any]:
        return {"slack_user_id": self.slack_user_id, "email": (self.email or None) and self.email[:320],
                "tz": (self.tz or None) and self.tz[:64], "tz_offset": self.tz_offset,
                "name": (self.name or None) and self.name[:255], "guest": self.guest}


@dataclass(frozen=True)
class Revocation:
    id: int
    dataos_user_id: str
    key_name: str
    revoke_at: datetime
    requested_by: str
    key_expiration: datetime | None = None


class Store(LedgerStore, LinkRepository):
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._users_seen: set[str] = set()  # touch_user: already recorded by this process

    def session(self) -> AsyncSession:
        return self._sessions()

    def _insert(self, table: Any) -> Any:
        """The dialect's INSERT, which knows ON CONFLICT on both SQLite and PostgreSQL."""
        # Imported here: the engine has loaded its own dialect, and the other one costs start-up time
        # (PostgreSQL's module alone is about 60 ms on a SQLite deployment).
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql  # noqa: PLC0415 (deferred for start-up)

            return postgresql.insert(table)
        from sqlalchemy.dialects import sqlite  # noqa: PLC0415 (deferred for start-up)

        return sqlite.insert(table)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    # ---- audit ------------------------------------------------------------------------------

    async def audit(self, entry: Audit) -> None:
        async with self.session() as s, s.begin():
            s.add(_audit_row(entry))

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

    async def record_created(self, request_id: str, entry: Audit, *, now: datetime) -> None:
        """After DataOS made a key: close its idempotency claim, remember its lifetime, audit it; one commit."""
        assert entry.dataos_user_id and entry.key_name and entry.key_expiration
        async with self.session() as s, s.begin():
            await s.execute(update(IdempotencyKey).where(IdempotencyKey.key == request_id).values(
                state="done", updated_at=now, key_name=entry.key_name, key_expiration=entry.key_expiration))
            await s.execute(self._made_now(entry.dataos_user_id, entry.key_name, entry.key_expiration, now))
            s.add(_audit_row(entry))

    # ---- key sightings -----------------------------------------------------------------------

    async def note_key_created(self, dataos_user_id: str, key_name: str, expiration: datetime, now: datetime) -> None:
        """The bot made this key now: its lifetime is known exactly."""
        async with self.session() as s, s.begin():
            await s.execute(self._made_now(dataos_user_id, key_name, expiration, now))

    def _made_now(self, dataos_user_id: str, key_name: str, expiration: datetime, now: datetime) -> Any:
        return self._insert(KeySighting).values(
            dataos_user_id=dataos_user_id, key_name=key_name, expiration=expiration, first_seen=now,
            created_at=now, muted=False,
        ).on_conflict_do_nothing()

    # ---- reminders ----------------------------------------------------------------------------

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

    async def set_reminders_enabled(self, slack_user_id: str, enabled: bool, now: datetime) -> None:
        stmt = self._insert(UserPrefs).values(
            slack_user_id=slack_user_id, reminders_enabled=enabled, first_used_at=now
        ).on_conflict_do_update(index_elements=[UserPrefs.slack_user_id], set_={"reminders_enabled": enabled})
        async with self.session() as s, s.begin():
            await s.execute(stmt)

    async def reminders_enabled(self, slack_user_id: str) -> bool:
        async with self.session() as s:
            row = await s.get(UserPrefs, slack_user_id)
            return row is None or row.reminders_enabled

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

    # ---- the Slack directory -----------------------------------------------------------------

    async def load_members(self) -> list[Member]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(SlackMember.slack_user_id, SlackMember.email, SlackMember.tz,
                                             SlackMember.tz_offset, SlackMember.name, SlackMember.guest))
            return [Member(*row) for row in rows]

    async def replace_members(self, members: Sequence[Member]) -> None:
        """A complete walk: the table becomes exactly `members`."""
        table = cast(Table, SlackMember.__table__)
        # An upsert, not a plain insert: two replicas may walk at the same moment.
        insert = self._insert(table)
        upsert = insert.on_conflict_do_update(index_elements=[table.c.slack_user_id], set_={
            c: insert.excluded[c] for c in ("email", "tz", "tz_offset", "name", "guest")})
        async with self.engine.begin() as conn:
            walked = {m.slack_user_id for m in members}
            gone = [uid for uid in (await conn.execute(select(table.c.slack_user_id))).scalars() if uid not in walked]
            for start in range(0, len(gone), 500):  # bounded IN lists, whatever the workspace's size
                await conn.execute(delete(table).where(table.c.slack_user_id.in_(gone[start:start + 500])))
            if members:
                await conn.execute(upsert, [m.row() for m in members])

    async def put_member(self, member: Member | None, slack_user_id: str) -> None:
        """One member changed (an event): stored, or removed when `member` is None (deactivated, a bot)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(SlackMember).where(SlackMember.slack_user_id == slack_user_id))
            if member is not None:
                await conn.execute(self._insert(SlackMember).values(**member.row()))

    # ---- Events API deliveries -------------------------------------------------------------

    async def claim_event(self, event_id: str, now: datetime) -> bool:
        """True for the first delivery of `event_id` across replicas; False for a repeat."""
        stmt = self._insert(SlackEvent).values(event_id=event_id, received_at=now).on_conflict_do_nothing(
            index_elements=[SlackEvent.event_id])
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def release_event(self, event_id: str) -> None:
        """The delivery failed before it was handled: Slack's retry of it must be processed."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(SlackEvent).where(SlackEvent.event_id == event_id))

    async def prune_events(self, older_than: datetime) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(SlackEvent).where(SlackEvent.received_at < older_than))
            return int(getattr(result, "rowcount", 0))

    # ---- user preferences -------------------------------------------------------------------

    async def touch_user(self, slack_user_id: str, now: datetime) -> None:
        """Remember that this person has used the bot (first use only).

        Called for every command, so each person is written once per process: rows are never
        deleted, and a write per command was a third of the CPU a busy bot spent on `/apikey help`.
        """
        if slack_user_id in self._users_seen:
            return
        self._users_seen.add(slack_user_id)  # before the write, or a burst from one person writes many times
        stmt = self._insert(UserPrefs).values(
            slack_user_id=slack_user_id, reminders_enabled=True, first_used_at=now
        ).on_conflict_do_nothing(index_elements=[UserPrefs.slack_user_id])
        try:
            async with self.engine.begin() as conn:
                await conn.execute(stmt)
        except BaseException:
            self._users_seen.discard(slack_user_id)  # the next command tries again
            raise

    async def count(self, table: Any) -> int:
        async with self.session() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)


def _audit_row(entry: Audit) -> AuditEntry:
    return AuditEntry(
        at=entry.at, actor_slack_id=entry.actor_slack_id, dataos_user_id=entry.dataos_user_id,
        action=entry.action, key_name=entry.key_name, key_expiration=entry.key_expiration,
        outcome=entry.outcome, detail=(entry.detail or None) and entry.detail[:500],
    )


def _sighting(r: KeySighting) -> Sighting:
    return Sighting(r.dataos_user_id, r.key_name, r.expiration, r.first_seen, r.created_at, r.muted,
                    r.snoozed_until, r.preexisting)

