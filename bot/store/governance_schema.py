"""Tables of governance (issue #28): approval requests and the messages that show them, and the
"Was this you?" notices about keys the bot did not make. Names, ids, times and states only: never a key.

Kept beside `schema` (on its `Base`) so that the migration (0013) and these models stay side by side.
"""

# No `from __future__ import annotations` here: SQLAlchemy reads each `Mapped[...]` annotation when the
# class is made, and a real one is read much faster than a string it must evaluate (start-up time).

from datetime import datetime

from sqlalchemy import Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.schema import Base, UTCDateTime


class ApprovalRequest(Base):
    """A key that needs someone's approval: who asked, for whom, which key (name and validity) and why;
    the one decision (the first wins, by a conditional UPDATE); and the key's delivery, claimed before it
    is made so that replicas make and deliver it once."""

    __tablename__ = "approval_requests"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    requester: Mapped[str] = mapped_column(String(32), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # personal | team
    dataos_user_id: Mapped[str] = mapped_column(Text())  # whose key: the requester's, or the application user's
    key_name: Mapped[str] = mapped_column(Text())
    hours: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(1000))
    approvers: Mapped[str] = mapped_column(String(1000))  # the rule's approvers when it was asked (for display)
    #: open | approved | denied | cancelled | expired
    state: Mapped[str] = mapped_column(String(16), index=True)
    decided_by: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(String(1000))  # why it was denied
    #: None (not yet) | working (claimed by `delivery_by` at `delivery_at`) | delivered | failed | unknown
    delivery: Mapped[str | None] = mapped_column(String(16))
    delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery_by: Mapped[str | None] = mapped_column(String(128))
    key_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    origin: Mapped[str] = mapped_column(String(32))  # slack, or another caller (a workflow step)
    origin_ref: Mapped[str | None] = mapped_column(String(255))
    # A renewal that needed approval: the old key, exactly, and what becomes of it once the new one exists.
    renew_name: Mapped[str | None] = mapped_column(Text())
    renew_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    renew_choice: Mapped[str | None] = mapped_column(String(16))


class ApprovalMessage(Base):
    """Where a request was posted (the approval channel, or each approver's DM): updated in place later."""

    __tablename__ = "approval_messages"
    request_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(32))


class NoticeOwner(Base):
    """An owner whose keys the "Was this you?" notices watch since `since`: keys already there then are
    the baseline, never news (no flood after an install, an upgrade or turning the feature back on)."""

    __tablename__ = "notice_owners"
    dataos_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyNotice(Base):
    """A key the bot did not make, told to whoever answers for it; claimed before the message is posted,
    so that replicas tell it once. `group_id` ties the keys told in one message."""

    __tablename__ = "key_notices"
    dataos_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    key_name: Mapped[str] = mapped_column(Text(), primary_key=True)
    expiration: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    audience: Mapped[str] = mapped_column(String(64))  # owner:<U…> | team:<C…> | admins
    group_id: Mapped[str] = mapped_column(String(32), index=True)
    #: claimed (by `claimed_by`) | sent | unknown (Slack's answer lost: never posted again) | undeliverable
    state: Mapped[str] = mapped_column(String(16))
    claimed_by: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answer: Mapped[str | None] = mapped_column(String(16))  # mine | revoked | gone
    answered_by: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    app_user: Mapped[bool] = mapped_column(Boolean, default=False)


class NoticeMessage(Base):
    """Where a notice was posted (a DM, a team channel, each admin's DM): updated in place on an answer."""

    __tablename__ = "notice_messages"
    group_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[str] = mapped_column(String(32), primary_key=True)


Index("ix_key_notices_open", KeyNotice.answer, KeyNotice.escalated_at)
