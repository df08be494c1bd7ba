"""Storage: SQLAlchemy 2 async over SQLite (default) or PostgreSQL, with Alembic migrations.

One repository per concern, all over one engine (`bot.store.base`); callers take the ones they need.
"""

from bot.store.audit import Audit, AuditLog
from bot.store.base import Database, Repository
from bot.store.db import (
    DatabaseUnusable,
    create_engine,
    current_revision,
    head_revision,
    migrate,
    safe_database_url,
)
from bot.store.events import SlackEvents
from bot.store.idempotency import Idempotency, IdempotencyClaims
from bot.store.leaks import LeakReports
from bot.store.ledger import KeyId, Ledger, Outcome
from bot.store.links import Link, Links, Proof
from bot.store.marks import SweepMarks
from bot.store.members import GrantedWorkspace, Member, Members
from bot.store.offboardings import Offboarded, Offboardings
from bot.store.prefs import Preferences
from bot.store.revocations import Revocation, ScheduledRevocations
from bot.store.sightings import KeySightings, ReminderState, Sighting

__all__ = [
    "Audit", "AuditLog", "Database", "DatabaseUnusable", "GrantedWorkspace", "Idempotency", "IdempotencyClaims",
    "KeyId",
    "KeySightings", "LeakReports", "Ledger", "Link", "Links", "Member", "Members", "Offboarded", "Offboardings",
    "Outcome", "Preferences",
    "Proof", "ReminderState", "Repository", "Revocation", "ScheduledRevocations", "Sighting", "SlackEvents",
    "SweepMarks", "create_engine", "current_revision", "head_revision", "migrate", "safe_database_url",
]
