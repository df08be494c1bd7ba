"""Approval requests (issue #28): one row per request. Every change of state is a conditional UPDATE, so
the first decision wins once across replicas, and the key's delivery is claimed before the key is made."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update

from bot.store.base import Repository
from bot.store.governance_schema import ApprovalMessage, ApprovalRequest

OPEN = "open"
DECIDED = ("approved", "denied", "cancelled", "expired")


@dataclass(frozen=True)
class Request:
    id: str
    created_at: datetime
    expires_at: datetime
    remind_at: datetime
    requester: str
    kind: str
    dataos_user_id: str
    key_name: str
    hours: int
    reason: str
    approvers: str
    state: str = OPEN
    reminded_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None
    delivery: str | None = None
    delivery_at: datetime | None = None
    delivery_by: str | None = None
    key_expiration: datetime | None = None
    origin: str = "slack"
    origin_ref: str | None = None
    renew_name: str | None = None
    renew_expiration: datetime | None = None
    renew_choice: str | None = None

    @property
    def app_user_id(self) -> str | None:
        return self.dataos_user_id if self.kind == "team" else None


@dataclass(frozen=True)
class Posted:
    request_id: str
    channel: str
    ts: str
    recipient: str


_FIELDS = tuple(f.name for f in fields(Request))


def _request(row: Any) -> Request:
    return Request(**{name: getattr(row, name) for name in _FIELDS})


class Approvals(Repository):
    async def add(self, request: Request) -> None:
        async with self.session() as s, s.begin():
            s.add(ApprovalRequest(**{name: getattr(request, name) for name in _FIELDS}))

    async def get(self, request_id: str) -> Request | None:
        async with self.session() as s:
            row = await s.get(ApprovalRequest, request_id[:32])
            return _request(row) if row is not None else None

    async def _move(self, request_id: str, where: list[Any], **values: Any) -> bool:
        async with self.session() as s, s.begin():
            result = await s.execute(update(ApprovalRequest).where(ApprovalRequest.id == request_id, *where)
                                     .values(**values))
            return bool(getattr(result, "rowcount", 0))

    async def decide(self, request_id: str, state: str, *, by: str, now: datetime, note: str | None = None) -> bool:
        """Approve or deny: True for the one caller whose UPDATE found the request still open and unexpired."""
        assert state in ("approved", "denied")
        return await self._move(request_id, [ApprovalRequest.state == OPEN, ApprovalRequest.expires_at > now],
                                state=state, decided_by=by, decided_at=now, note=note)

    async def cancel(self, request_id: str, *, by: str, now: datetime) -> bool:
        """Only the requester cancels, and only an open request."""
        return await self._move(request_id, [ApprovalRequest.state == OPEN, ApprovalRequest.requester == by],
                                state="cancelled", decided_by=by, decided_at=now)

    async def expire(self, request_id: str, *, now: datetime) -> bool:
        return await self._move(request_id, [ApprovalRequest.state == OPEN, ApprovalRequest.expires_at <= now],
                                state="expired", decided_at=now)

    async def due_to_expire(self, now: datetime) -> list[Request]:
        async with self.session() as s:
            rows = await s.scalars(select(ApprovalRequest).where(
                ApprovalRequest.state == OPEN, ApprovalRequest.expires_at <= now).order_by(ApprovalRequest.expires_at))
            return [_request(r) for r in rows]

    async def due_reminders(self, now: datetime) -> list[Request]:
        async with self.session() as s:
            rows = await s.scalars(select(ApprovalRequest).where(
                ApprovalRequest.state == OPEN, ApprovalRequest.remind_at <= now, ApprovalRequest.expires_at > now,
                ApprovalRequest.reminded_at.is_(None)).order_by(ApprovalRequest.remind_at))
            return [_request(r) for r in rows]

    async def claim_reminder(self, request_id: str, *, now: datetime) -> bool:
        return await self._move(request_id, [ApprovalRequest.state == OPEN, ApprovalRequest.reminded_at.is_(None)],
                                reminded_at=now)

    async def claim_delivery(self, request_id: str, *, worker: str, now: datetime, lease: timedelta) -> bool:
        """Claim the making and delivery of an approved request's key: nobody has, or a claim older than
        `lease` (its process died) is taken over."""
        free = or_(ApprovalRequest.delivery.is_(None),
                   and_(ApprovalRequest.delivery == "working", ApprovalRequest.delivery_at < now - lease))
        return await self._move(request_id, [ApprovalRequest.state == "approved", free], delivery="working",
                                delivery_at=now, delivery_by=worker[:128])

    async def finish_delivery(self, request_id: str, outcome: str, *, now: datetime,
                              key_expiration: datetime | None = None) -> None:
        """`delivered`, `failed` or `unknown` (final); or None: nothing was made, another try may come."""
        values: dict[str, Any] = {"delivery": outcome, "delivery_at": now}
        if key_expiration is not None:
            values["key_expiration"] = key_expiration
        await self._move(request_id, [ApprovalRequest.delivery == "working"], **values)

    async def undelivered(self, now: datetime, lease: timedelta) -> list[Request]:
        """Approved requests whose key nobody is making: never claimed, or claimed by a process that died."""
        async with self.session() as s:
            rows = await s.scalars(select(ApprovalRequest).where(
                ApprovalRequest.state == "approved",
                or_(ApprovalRequest.delivery.is_(None),
                    and_(ApprovalRequest.delivery == "working", ApprovalRequest.delivery_at < now - lease))))
            return [_request(r) for r in rows]

    async def open_requests(self, *, requester: str | None = None, limit: int = 200) -> list[Request]:
        query = select(ApprovalRequest).where(ApprovalRequest.state == OPEN)
        if requester is not None:
            query = query.where(ApprovalRequest.requester == requester)
        async with self.session() as s:
            rows = await s.scalars(query.order_by(ApprovalRequest.created_at).limit(limit))
            return [_request(r) for r in rows]

    async def decided_since(self, since: datetime, state: str, limit: int = 200) -> list[Request]:
        async with self.session() as s:
            rows = await s.scalars(select(ApprovalRequest).where(
                ApprovalRequest.state == state, ApprovalRequest.decided_at >= since)
                .order_by(ApprovalRequest.decided_at.desc()).limit(limit))
            return [_request(r) for r in rows]

    async def count(self, state: str, since: datetime | None = None) -> int:
        query = select(func.count()).select_from(ApprovalRequest).where(ApprovalRequest.state == state)
        if since is not None:
            query = query.where(ApprovalRequest.decided_at >= since)
        async with self.session() as s:
            return int(await s.scalar(query) or 0)

    async def add_message(self, posted: Posted) -> None:
        async with self.session() as s, s.begin():
            await s.execute(self._insert(ApprovalMessage).values(
                request_id=posted.request_id, channel=posted.channel, ts=posted.ts, recipient=posted.recipient,
            ).on_conflict_do_nothing())

    async def messages(self, request_id: str) -> list[Posted]:
        async with self.session() as s:
            rows = await s.scalars(select(ApprovalMessage).where(ApprovalMessage.request_id == request_id))
            return [Posted(r.request_id, r.channel, r.ts, r.recipient) for r in rows]

    async def prune(self, older_than: datetime) -> int:
        """Requests decided before `older_than`, and where they were posted (the audit trail keeps the story)."""
        async with self.session() as s, s.begin():
            settled = or_(ApprovalRequest.state != "approved",
                          ApprovalRequest.delivery.in_(("delivered", "failed", "unknown")))
            old = select(ApprovalRequest.id).where(ApprovalRequest.state != OPEN, settled,
                                                   ApprovalRequest.decided_at < older_than)
            await s.execute(delete(ApprovalMessage).where(ApprovalMessage.request_id.in_(old)))
            result = await s.execute(delete(ApprovalRequest).where(ApprovalRequest.id.in_(old)))
            return int(getattr(result, "rowcount", 0))
