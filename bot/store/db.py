"""Engine creation and migrations.

SQLite is the embedded default: its folder is created and the file is made readable by its owner
only. PostgreSQL is for several replicas; migrations then run under an advisory lock so replicas
starting together do not race.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
#: The newest migration. A start whose database is already there skips Alembic altogether (its import
#: and its checks are a good part of start-up); a test keeps this in step with `migrations/versions`.
SCHEMA_HEAD = "0014"
_LOCK_ID = 0x41504B42  # "APKB": the advisory lock that serialises migrations on PostgreSQL


class DatabaseUnusable(Exception):
    """The database cannot be reached, opened or created; the message says which and why, in one line."""


def safe_database_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    name = type(cause).__name__
    if not text:
        return name
    return text if name in ("Error", "Exception") else f"{name}: {text}"  # a driver's generic class says nothing


def prepare_sqlite_file(url: str) -> None:
    """Create the database file's folder and the file itself with owner-only permissions."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def create_engine(url: str, *, pool_size: int = 10, connect_args: dict[str, Any] | None = None) -> AsyncEngine:
    if url.startswith("sqlite"):
        try:
            prepare_sqlite_file(url)
        except OSError as exc:
            raise DatabaseUnusable(f"the SQLite database {safe_database_url(url)} cannot be opened or created: "
                                   f"{_reason(exc)}") from exc
        engine = create_async_engine(url, connect_args={"timeout": 15, **(connect_args or {})})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            # WAL lets the sweep write while requests read; busy_timeout waits instead of failing.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args or {}
    )


def _alembic_config(connection: Connection) -> Any:
    # Alembic's imports in this module are deferred for start-up speed: it is only loaded when the schema
    # is behind (or asked about), not on every start of an up-to-date bot.
    from alembic.config import Config  # noqa: PLC0415

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    from alembic import command  # noqa: PLC0415 (deferred for start-up)

    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
    command.upgrade(_alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest version (idempotent; without Alembic when it is there already).
    A database that cannot be reached or opened raises DatabaseUnusable."""
    try:
        if await _stored_revision(engine) == SCHEMA_HEAD:
            return
        async with engine.begin() as conn:
            await conn.run_sync(_upgrade)
    except (OSError, DBAPIError) as exc:  # connection refused, timeouts, authentication, permissions
        raise DatabaseUnusable(f"the database {safe_database_url(str(engine.url))} cannot be used: "
                               f"{_reason(exc)}") from exc


async def _stored_revision(engine: AsyncEngine) -> str | None:
    """Alembic's own record of the schema version, read with plain SQL; None when there is none."""
    try:
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    except Exception:  # no such table yet (a new database): Alembic creates it
        return None
    return str(rows[0]) if len(rows) == 1 else None


def head_revision() -> str:
    from alembic.script import ScriptDirectory  # noqa: PLC0415 (deferred for start-up)

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 (deferred for start-up)

    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())
