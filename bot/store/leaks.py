"""Leak reports and the DMs sent about them, and how long they are kept.

A report is opened once per pasted key and window (`within`, counted from the paste that opened it:
repeats never move it). Each DM about it is a row of its own, claimed before it is sent and recorded
after: a report counts as told only once a DM was delivered, a DM Slack refused is tried again (by the
next paste of the key or by housekeeping), and a DM whose outcome is unknown is never sent twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select, update

from bot.store.base import Repository
from bot.store.schema import LeakDM, LeakReport

#: A DM Slack refused is tried this many times in all.
MAX_ATTEMPTS = 5
#: Channels listed on a report: whole ids only, the oldest dropped first.
PLACES_CHARS = 2000


@dataclass(frozen=True)
class Report:
    fingerprint: str
    dataos_user_id: str
    key_name: str
    first_seen: datetime
    times: int
    places: list[str]
    poster: str | None
    channel: str | None
    message_ts: str | None
    key_expiration: datetime | None
    to_admins: bool
    #: True for the paste that opened this report (its caller tells people), False for a repeat.
    new: bool = False


@dataclass(frozen=True)
class Sent:
    """A DM about a report that Slack delivered: where it is, so a repeat can reply in its thread."""

    recipient: str
    channel: str
    ts: str


def _places(existing: str | None, channel: str) -> str:
    places = [p for p in (existing or "").split() if p != channel] + [channel]
    while len(" ".join(places)) > PLACES_CHARS:
        places.pop(0)
    return " ".join(places)


def _report(row: LeakReport, *, new: bool) -> Report:
    return Report(row.fingerprint, row.dataos_user_id, row.key_name, row.first_seen, row.times,
                  (row.places or "").split(), row.poster, row.channel, row.message_ts, row.key_expiration,
                  row.to_admins, new)


class LeakReports(Repository):
    async def record(self, fingerprint: str, *, dataos_user_id: str, key_name: str, channel: str, poster: str,
                     message_ts: str, key_expiration: datetime | None, to_admins: bool, now: datetime,
                     within: timedelta) -> Report:
        """A live key seen pasted. `new` on the result when this paste opens a report (none yet, or the
        last one is older than `within`): its caller sends the DMs. One transaction, so two replicas
        seeing the same paste agree on which of them reports it."""
        values = {"dataos_user_id": dataos_user_id, "key_name": key_name[:255], "first_seen": now, "last_seen": now,
                  "times": 1, "places": channel[:32], "poster": poster[:32], "channel": channel[:32],
                  "message_ts": message_ts[:32], "key_expiration": key_expiration, "to_admins": to_admins}
        async with self.session() as s, s.begin():
            inserted = await s.execute(self._insert(LeakReport).values(fingerprint=fingerprint, **values)
                                       .on_conflict_do_nothing().returning(LeakReport.fingerprint))
            if inserted.first() is None:
                row = (await s.execute(select(LeakReport).where(LeakReport.fingerprint == fingerprint)
                                       .with_for_update())).scalar_one()
                if now - row.first_seen < within:
                    row.times += 1
                    row.last_seen = max(row.last_seen, now)
                    row.places = _places(row.places, channel[:32])
                    return _report(row, new=False)
                # An old report: this paste is news again, told afresh.
                await s.execute(delete(LeakDM).where(LeakDM.fingerprint == fingerprint))
                for name, value in values.items():
                    setattr(row, name, value)
            row = (await s.execute(select(LeakReport).where(LeakReport.fingerprint == fingerprint))).scalar_one()
            return _report(row, new=True)

    async def claim(self, fingerprint: str, recipients: Sequence[str], now: datetime) -> list[str]:
        """Of `recipients`, those this caller is to DM now: never DMed about this report, or refused by
        Slack fewer than MAX_ATTEMPTS times. Each is marked `sending` first, so no one else sends it."""
        claimed: list[str] = []
        async with self.session() as s, s.begin():
            for recipient in dict.fromkeys(r[:32] for r in recipients):
                inserted = await s.execute(self._insert(LeakDM).values(
                    fingerprint=fingerprint, recipient=recipient, state="sending", attempts=1, updated_at=now,
                ).on_conflict_do_nothing().returning(LeakDM.recipient))
                if inserted.first() is None:
                    retried = await s.execute(update(LeakDM).where(
                        LeakDM.fingerprint == fingerprint, LeakDM.recipient == recipient, LeakDM.state == "failed",
                        LeakDM.attempts < MAX_ATTEMPTS,
                    ).values(state="sending", attempts=LeakDM.attempts + 1, updated_at=now))
                    if not getattr(retried, "rowcount", 0):
                        continue
                claimed.append(recipient)
        return claimed

    async def finish(self, fingerprint: str, recipient: str, *, state: str, now: datetime,
                     channel: str | None = None, ts: str | None = None) -> None:
        """The outcome of one DM: `sent` (with where it landed), `failed` or `unknown`."""
        async with self.session() as s, s.begin():
            await s.execute(update(LeakDM).where(LeakDM.fingerprint == fingerprint, LeakDM.recipient == recipient[:32])
                            .values(state=state, channel=channel and channel[:32], ts=ts and ts[:32],
                                    updated_at=now))

    async def sent(self, fingerprint: str) -> list[Sent]:
        async with self.session() as s:
            rows = (await s.execute(select(LeakDM).where(LeakDM.fingerprint == fingerprint, LeakDM.state == "sent")
                                    .order_by(LeakDM.recipient))).scalars().all()
        return [Sent(r.recipient, r.channel or "", r.ts or "") for r in rows if r.channel and r.ts]

    async def retryable(self, fingerprint: str) -> list[str]:
        """Recipients of this report whom Slack refused a DM and who may be tried again."""
        async with self.session() as s:
            return list((await s.execute(select(LeakDM.recipient).where(
                LeakDM.fingerprint == fingerprint, LeakDM.state == "failed", LeakDM.attempts < MAX_ATTEMPTS,
            ).order_by(LeakDM.recipient))).scalars().all())

    async def failed(self, *, now: datetime, within: timedelta) -> list[tuple[Report, list[str]]]:
        """Reports still in their window with DMs Slack refused and that may be tried again."""
        async with self.session() as s:
            rows = (await s.execute(select(LeakReport, LeakDM.recipient).join(
                LeakDM, LeakDM.fingerprint == LeakReport.fingerprint).where(
                LeakDM.state == "failed", LeakDM.attempts < MAX_ATTEMPTS, LeakReport.first_seen > now - within,
            ).order_by(LeakReport.first_seen))).all()
        found: dict[str, tuple[Report, list[str]]] = {}
        for report, recipient in rows:
            found.setdefault(report.fingerprint, (_report(report, new=False), []))[1].append(recipient)
        return list(found.values())

    async def prune(self, older_than: datetime) -> int:
        """Forget reports last seen before `older_than`, with their DMs; the number of reports."""
        async with self.session() as s, s.begin():
            old = select(LeakReport.fingerprint).where(LeakReport.last_seen < older_than)
            await s.execute(delete(LeakDM).where(LeakDM.fingerprint.in_(old)))
            result = await s.execute(delete(LeakReport).where(and_(LeakReport.last_seen < older_than)))
            return int(getattr(result, "rowcount", 0))
