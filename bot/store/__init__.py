"""Storage: SQLAlchemy 2 async over SQLite (default) or PostgreSQL, with Alembic migrations."""

from bot.store.db import (
    DatabaseUnusable,
    create_engine,
    current_revision,
    head_revision,
    migrate,
    safe_database_url,
)
from bot.store.ledger import KeyId, Outcome
from bot.store.links import Link, Proof
from bot.store.repo import (
    Audit,
    Idempotency,
    Member,
    ReminderState,
    Revocation,
    Sighting,
    Store,
)

__all__ = [
    "Audit", "DatabaseUnusable", "Idempotency", "KeyId", "Link", "Member", "Outcome", "Proof", "ReminderState",
    "Revocation", "Sighting", "Store", "create_engine", "current_revision", "head_revision", "migrate",
    "safe_database_url",
]
