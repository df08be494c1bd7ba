""""Was this you?" notices (issue #28): the owners whose keys are watched since when (the baseline), each
key the bot did not make and whom it was told to, claimed before the message goes out, and the answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from bot.store.base import Repository
from bot.store.governance_schema import KeyNotice, NoticeMessage, NoticeOwner
from bot.store.ledger import KeyId
from bot.store.schema import RotationRow

#: A key's notice row: `baseline` (there when its owner was first watched) and `bot` (the bot made it) are
#: never told; the others were, or are being, told.
TOLD = ("claimed", "sent", "unknown", "undeliverable")


@dataclass(frozen=True)
class Notice:
    dataos_user_id: str
    key_name: str
    expiration: datetime
    first_seen: datetime
    audience: str  # owner:<U…> | team:<C…> | admins
    group_id: str
    app_user: bool = False
    state: str = "claimed"
    claimed_at: datetime | None = None
    answer: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    escalated_at: datetime | None = None

    @property
    def key(self) -> KeyId:
        return (self.dataos_user_id, self.key_name, self.expiration)


def _notice(r: KeyNotice) -> Notice:
    return Notice(r.dataos_user_id, r.key_name, r.expiration, r.first_seen, r.audience, r.group_id, r.app_user,
                  r.state, r.claimed_at, r.answer, r.answered_by, r.answered_at, r.escalated_at)


class Notices(Repository):
    async def owners(self) -> dict[str, datetime]:
        """Every watched owner and since when (one read per discovery)."""
        async with self.session() as s:
            return {uid: since for uid, since in await s.execute(select(NoticeOwner.dataos_user_id,
                                                                         NoticeOwner.since))}

    async def watch(self, owners: Sequence[str], since: datetime) -> None:
        """Start watching these owners: their keys listed now are the baseline."""
        if not owners:
            return
        async with self.session() as s, s.begin():
            conn = await s.connection()
            await conn.execute(self._insert(NoticeOwner.__table__).on_conflict_do_nothing(),
                               [{"dataos_user_id": u, "since": since} for u in owners])

    async def unwatch_all(self) -> int:
        """NOTICE_NEW_KEYS=false: turning it on again starts from a new baseline, never a flood."""
        async with self.session() as s, s.begin():
            return int(getattr(await s.execute(delete(NoticeOwner)), "rowcount", 0))

    async def all_keys(self, since: datetime) -> set[KeyId]:
        """Every key with a row (baseline, the bot's, told) that expires after `since`: read once a discovery."""
        async with self.session() as s:
            rows = await s.execute(select(KeyNotice.dataos_user_id, KeyNotice.key_name, KeyNotice.expiration)
                                   .where(KeyNotice.expiration > since))
            return {(u, n, e) for u, n, e in rows}

    async def settle(self, keys: Sequence[KeyId], state: str, now: datetime) -> None:
        """Keys never to be told: the `baseline` of a newly watched owner, or keys the `bot` made."""
        if not keys:
            return
        async with self.session() as s, s.begin():
            conn = await s.connection()
            await conn.execute(self._insert(KeyNotice.__table__).on_conflict_do_nothing(), [
                {"dataos_user_id": u, "key_name": n, "expiration": e, "first_seen": now, "audience": "",
                 "group_id": "", "state": state, "claimed_by": "", "claimed_at": now, "app_user": False}
                for u, n, e in keys])

    async def rotated(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which of these (application user, key name) a rotation names as the successor it makes: recorded
        before DataOS makes the key (`bot.rotation`), like a create's idempotency claim."""
        if not keys:
            return set()
        async with self.session() as s:
            rows = await s.execute(select(RotationRow.app_user_id, RotationRow.new_name)
                                   .where(RotationRow.app_user_id.in_({u for u, _ in keys})))
            return {(str(u), str(n)) for u, n in rows} & set(keys)

    async def known(self, keys: Sequence[KeyId]) -> set[KeyId]:
        """Which of these keys have a notice already (told, or being told)."""
        if not keys:
            return set()
        owners = {k[0] for k in keys}
        async with self.session() as s:
            rows = await s.execute(select(KeyNotice.dataos_user_id, KeyNotice.key_name, KeyNotice.expiration)
                                   .where(KeyNotice.dataos_user_id.in_(owners)))
            return {(u, n, e) for u, n, e in rows} & set(keys)

    async def claim(self, notices: Sequence[Notice], *, worker: str, now: datetime) -> list[Notice]:
        """Claim each key's notice; returns the ones this caller claimed (another replica has the rest)."""
        if not notices:
            return []
        async with self.session() as s, s.begin():
            conn = await s.connection()
            await conn.execute(self._insert(KeyNotice.__table__).on_conflict_do_nothing(), [
                {"dataos_user_id": n.dataos_user_id, "key_name": n.key_name, "expiration": n.expiration,
                 "first_seen": n.first_seen, "audience": n.audience, "group_id": n.group_id, "state": "claimed",
                 "claimed_by": worker[:64], "claimed_at": now, "app_user": n.app_user} for n in notices])
        groups = {n.group_id for n in notices}
        async with self.session() as s:
            rows = await s.scalars(select(KeyNotice).where(KeyNotice.group_id.in_(groups),
                                                           KeyNotice.claimed_by == worker[:64]))
            return [_notice(r) for r in rows]

    async def posted(self, group_id: str, state: str, places: Sequence[tuple[str, str]]) -> None:
        """The group's message went out (`sent`, with where it landed), or its fate is `unknown` or
        `undeliverable`: final, never posted again."""
        async with self.session() as s, s.begin():
            await s.execute(update(KeyNotice).where(KeyNotice.group_id == group_id).values(state=state))
            for channel, ts in places:
                await s.execute(self._insert(NoticeMessage).values(group_id=group_id, channel=channel, ts=ts)
                                .on_conflict_do_nothing())

    async def release(self, group_id: str) -> None:
        """Slack refused the message for now: forgotten, so the next discovery tells it again."""
        async with self.session() as s, s.begin():
            await s.execute(delete(KeyNotice).where(KeyNotice.group_id == group_id, KeyNotice.state == "claimed"))

    async def get(self, key: KeyId) -> Notice | None:
        async with self.session() as s:
            row = await s.get(KeyNotice, key)
            return _notice(row) if row is not None else None

    async def find(self, dataos_user_id: str, expiration: datetime) -> list[Notice]:
        """The notices of an owner's keys that expire at that moment (a button names a key by these)."""
        async with self.session() as s:
            rows = await s.scalars(select(KeyNotice).where(KeyNotice.dataos_user_id == dataos_user_id,
                                                           KeyNotice.expiration == expiration))
            return [_notice(r) for r in rows]

    async def group(self, group_id: str) -> list[Notice]:
        async with self.session() as s:
            rows = await s.scalars(select(KeyNotice).where(KeyNotice.group_id == group_id)
                                   .order_by(KeyNotice.expiration, KeyNotice.key_name))
            return [_notice(r) for r in rows]

    async def messages(self, group_id: str) -> list[tuple[str, str]]:
        async with self.session() as s:
            rows = await s.execute(select(NoticeMessage.channel, NoticeMessage.ts)
                                   .where(NoticeMessage.group_id == group_id))
            return [(c, t) for c, t in rows]

    async def answer(self, key: KeyId, answer: str, *, by: str, now: datetime) -> bool:
        """The first answer counts (a second click, or a second owner, reads what the first said)."""
        uid, name, exp = key
        async with self.session() as s, s.begin():
            result = await s.execute(update(KeyNotice).where(
                KeyNotice.dataos_user_id == uid, KeyNotice.key_name == name, KeyNotice.expiration == exp,
                KeyNotice.answer.is_(None)).values(answer=answer, answered_by=by, answered_at=now))
            return bool(getattr(result, "rowcount", 0))

    async def unanswered(self, *, told_before: datetime, limit: int = 500) -> list[Notice]:
        """Notices nobody answered that were told before `told_before` and not escalated yet."""
        async with self.session() as s:
            rows = await s.scalars(select(KeyNotice).where(
                KeyNotice.state.in_(TOLD), KeyNotice.answer.is_(None), KeyNotice.escalated_at.is_(None),
                KeyNotice.claimed_at <= told_before).order_by(KeyNotice.claimed_at).limit(limit))
            return [_notice(r) for r in rows]

    async def escalate(self, key: KeyId, *, now: datetime) -> bool:
        uid, name, exp = key
        async with self.session() as s, s.begin():
            result = await s.execute(update(KeyNotice).where(
                KeyNotice.dataos_user_id == uid, KeyNotice.key_name == name, KeyNotice.expiration == exp,
                KeyNotice.answer.is_(None), KeyNotice.escalated_at.is_(None)).values(escalated_at=now))
            return bool(getattr(result, "rowcount", 0))

    async def open_count(self, now: datetime) -> int:
        async with self.session() as s:
            return int(await s.scalar(select(func.count()).select_from(KeyNotice).where(
                KeyNotice.state.in_(TOLD), KeyNotice.answer.is_(None), KeyNotice.expiration > now)) or 0)

    async def open_notices(self, now: datetime, limit: int = 20) -> list[Notice]:
        async with self.session() as s:
            rows = await s.scalars(select(KeyNotice).where(KeyNotice.state.in_(TOLD), KeyNotice.answer.is_(None),
                                                           KeyNotice.expiration > now)
                                   .order_by(KeyNotice.claimed_at).limit(limit))
            return [_notice(r) for r in rows]

    async def prune(self, expired_before: datetime) -> int:
        """Notices of keys that expired long ago, and their messages."""
        async with self.session() as s, s.begin():
            old = select(KeyNotice.group_id).where(KeyNotice.expiration < expired_before, KeyNotice.group_id != "")
            await s.execute(delete(NoticeMessage).where(NoticeMessage.group_id.in_(old)))
            result = await s.execute(delete(KeyNotice).where(KeyNotice.expiration < expired_before))
            return int(getattr(result, "rowcount", 0))
