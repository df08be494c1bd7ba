"""Tables. Nothing here may ever hold a key's value: names, expiries and outcomes only.

Changing a table means a new migration in `migrations/versions/`; the models below are what the
migrations produce, kept side by side so queries are typed.
"""

# No `from __future__ import annotations` here: SQLAlchemy reads each `Mapped[...]` annotation when the
# class is made, and a real one is read much faster than a string it must evaluate (start-up time).

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Dialect, Index, Integer, MetaData, String, Text, TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which drops the offset) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class IdentityLink(Base):
    """An explicit Slack user -> DataOS user mapping (made by an admin or by `/apikey link`)."""

    __tablename__ = "identity_links"
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataos_user_id: Mapped[str] = mapped_column(Text(), index=True)
    method: Mapped[str] = mapped_column(String(16))  # "admin" | "self"
    linked_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # A self-link is derived from the key that proved it, and ends with it: which key that was (a keyed
    # hash, as the leak watch keeps, plus name and expiry; never the key), and when DataOS last said it
    # still exists. Empty for admin links.
    proof_fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    proof_key_name: Mapped[str | None] = mapped_column(String(255))
    proof_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    proof_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor_slack_id: Mapped[str] = mapped_column(String(32))
    dataos_user_id: Mapped[str | None] = mapped_column(Text(), index=True)
    action: Mapped[str] = mapped_column(String(32))
    key_name: Mapped[str | None] = mapped_column(Text())
    key_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(String(500))


class IdempotencyKey(Base):
    """One row per create request (e.g. one modal submission): a second submit finds it here."""

    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # pending | done | failed
    dataos_user_id: Mapped[str] = mapped_column(Text())
    key_name: Mapped[str | None] = mapped_column(Text())
    key_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ReminderLedger(Base):
    """Each (user, key, expiration, step) is claimed here before its DM is sent: at most once."""

    __tablename__ = "reminder_ledger"
    dataos_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    key_name: Mapped[str] = mapped_column(Text(), primary_key=True)
    expiration: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str] = mapped_column(String(128))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    #: claimed | sent | failed (refused for now: tried again from `retry_at`) | undeliverable (refused for
    #: good: this step is over, the next one tries again) | unknown (Slack may have it: never sent again)
    state: Mapped[str] = mapped_column(String(16))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    slack_user_id: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(64))  # Slack's error code, or what went wrong


class KeySighting(Base):
    """When the bot first saw a key (or made it): gives a lifetime to keys made elsewhere."""

    __tablename__ = "key_sightings"
    dataos_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    key_name: Mapped[str] = mapped_column(Text(), primary_key=True)
    expiration: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    preexisting: Mapped[bool] = mapped_column(Boolean, default=False)


class SweptUser(Base):
    """A DataOS user the reminder sweep has seen before: keys new to them since have a known lifetime."""

    __tablename__ = "swept_users"
    dataos_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    first_swept_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: When this person's keys were last listed (by a sweep or a user action): the record's age.
    listed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SlackMember(Base):
    """An active human Slack member as the directory walk or an event last saw them (reminder audience)."""

    __tablename__ = "slack_members"
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    tz: Mapped[str | None] = mapped_column(String(64))
    tz_offset: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str | None] = mapped_column(String(255))
    #: A guest account (`is_restricted` or `is_ultra_restricted`), kept only when ALLOW_GUESTS admits them.
    guest: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Enterprise Grid: the granted workspaces they are in, space-separated (NULL on a single workspace).
    teams: Mapped[str | None] = mapped_column(Text())


class SlackWorkspace(Base):
    """Enterprise Grid: a workspace of the organisation, and whether its admin granted it to the bot now."""

    __tablename__ = "slack_workspaces"
    team_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(255))
    granted: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LeakReport(Base):
    """A live key seen pasted where others could read it, by keyed hash (`fingerprint`), never in clear.

    `places` lists the distinct channels where it was posted; `poster`, `channel` and `message_ts` say
    where the paste that opened the report was, so a DM that failed can be written again. A report
    lasts `REPEAT_WITHIN` from `first_seen`: repeats within it update the DMs sent (`leak_dms`)."""

    __tablename__ = "leak_reports"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    dataos_user_id: Mapped[str] = mapped_column(String(255))
    key_name: Mapped[str] = mapped_column(String(255))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    times: Mapped[int] = mapped_column(Integer, default=1)
    places: Mapped[str | None] = mapped_column(String(2000))
    poster: Mapped[str | None] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    key_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    to_admins: Mapped[bool] = mapped_column(Boolean, default=False)


class LeakDM(Base):
    """One DM about a leak report: claimed (`sending`) before it is sent, then `sent` (with where it
    landed), `failed` (Slack refused it: tried again) or `unknown` (no answer: never sent twice)."""

    __tablename__ = "leak_dms"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SweepMark(Base):
    """When something shared by replicas last happened (`discovery`): claimed with a conditional update."""

    __tablename__ = "sweep_marks"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduledRevocation(Base):
    """"Revoke the old key in N hours" from a renewal; carried out by the sweep."""

    __tablename__ = "scheduled_revocations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataos_user_id: Mapped[str] = mapped_column(Text())
    key_name: Mapped[str] = mapped_column(Text())
    revoke_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # pending | running | done | skipped | failed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Which key exactly: a later key may reuse the name. Empty only for rows from before 0003.
    key_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The claim of a `running` row: a lease from `claimed_at` (a claimer killed mid-revocation leaves it to
    # be taken again), how many times it was claimed, and what broke last (an error code, never a text).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    error: Mapped[str | None] = mapped_column(String(64))


class SlackEvent(Base):
    """An Events API delivery already taken by a replica: a retry of it is answered and skipped."""

    __tablename__ = "slack_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class UserPrefs(Base):
    __tablename__ = "user_prefs"
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    reminders_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    first_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


Index("ix_audit_actor_at", AuditEntry.actor_slack_id, AuditEntry.at)


class TeamRow(Base):
    """Who owns an application user's keys: Slack people and user groups (space-separated ids), and the
    channel that hears about its keys. Set by admins (`/apikey admin team`)."""

    __tablename__ = "teams"
    app_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(32))
    owner_users: Mapped[str] = mapped_column(Text(), default="")
    owner_groups: Mapped[str] = mapped_column(Text(), default="")
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RotationTarget(Base):
    """A team key (or the bot's own) that rotates itself into Vault: where, how often, and the key it
    watches now. Set by admins (`/apikey admin team <app-user> rotate …`) or by DATAOS_APIKEY_FROM. Names
    and dates only: the key and the Vault token are never here."""

    __tablename__ = "rotation_targets"
    app_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # team | bot
    target: Mapped[str] = mapped_column(Text())  # vault:<mount>/<path>#<field>
    every_hours: Mapped[int | None] = mapped_column(Integer)
    before_hours: Mapped[int] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))  # on | failed (reminders ask for a renew again)
    key_name: Mapped[str | None] = mapped_column(Text())
    key_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    set_by: Mapped[str] = mapped_column(String(32))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))


class RotationRow(Base):
    """One rotation of one key, step by step (create, write, verify, announce, grace, revoke, done or
    failed), claimed with a lease so that one replica carries it out and another resumes it after a crash.
    `active_for` holds the application user while it runs: at most one rotation per key at a time."""

    __tablename__ = "rotations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    app_user_id: Mapped[str] = mapped_column(Text(), index=True)
    active_for: Mapped[str | None] = mapped_column(Text(), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(Text())
    step: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(64))
    old_name: Mapped[str] = mapped_column(Text())
    old_expiration: Mapped[datetime] = mapped_column(UTCDateTime())
    new_name: Mapped[str] = mapped_column(Text())
    new_expiration: Mapped[datetime | None] = mapped_column(UTCDateTime())
    hours: Mapped[int] = mapped_column(Integer)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    version_before: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[int | None] = mapped_column(Integer)
    announce: Mapped[str | None] = mapped_column(String(16))  # sending | sent | dm | unknown | refused | none
    channel: Mapped[str | None] = mapped_column(String(32))
    ts: Mapped[str | None] = mapped_column(String(32))
    revoke_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(500))
    successor: Mapped[str | None] = mapped_column(String(16))  # at a failure: kept | revoked | none
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class MintedKey(Base):
    """A key created, renewed or revealed through a self-link (its owner, name and expiry; never the key),
    tied to the key that proved the link (`proof_*`). When that key is revoked, found gone, seen leaked or
    disowned, these keys are revoked; when it expires, they are kept (`state`: live | revoking | kept |
    revoked | gone | changed). None of them can prove a self-link. Kept until the key itself expires."""

    __tablename__ = "minted_keys"
    dataos_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    key_name: Mapped[str] = mapped_column(Text(), primary_key=True)
    key_expiration: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    proof_fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    proof_key_name: Mapped[str] = mapped_column(Text())
    proof_expiration: Mapped[datetime] = mapped_column(UTCDateTime())
    slack_user_id: Mapped[str] = mapped_column(String(32))
    how: Mapped[str] = mapped_column(String(16))  # created | renewed | revealed
    state: Mapped[str] = mapped_column(String(16), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class HashKey(Base):
    """The key of the keyed hash that leak reports and self-link proofs keep: made once (from the operator
    key of the first start, as earlier versions derived it each time) and then kept, so rotating
    DATAOS_APIKEY changes nothing that was recorded."""

    __tablename__ = "hash_keys"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TeamGroupMember(Base):
    """Who was last seen in a user group that owns a team (one row per member, and one with an empty
    member for "seen"), so that an owner who appears or leaves through the group is said once, by the
    replica whose insert or delete took effect."""

    __tablename__ = "team_group_members"
    app_user_id: Mapped[str] = mapped_column(Text(), primary_key=True)
    group_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Offboarding(Base):
    """A Slack member's deactivation, remembered so that a reactivation can undo what it did: the teams it
    removed them from (JSON list of application user ids) and where its notices went (JSON list of
    [channel, ts]), to update them in place."""

    __tablename__ = "offboardings"
    slack_user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataos_user_id: Mapped[str | None] = mapped_column(Text())
    deactivated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    teams: Mapped[str] = mapped_column(Text(), default="[]")
    notices: Mapped[str] = mapped_column(Text(), default="[]")
