"""What every repository shares: one engine, a session factory over it, and the dialect's INSERT."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


def insert_for(engine: AsyncEngine, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT on both SQLite and PostgreSQL."""
    # Imported here: the engine has loaded its own dialect, and the other one costs start-up time
    # (PostgreSQL's module alone is about 60 ms on a SQLite deployment).
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql  # noqa: PLC0415 (deferred for start-up)

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite  # noqa: PLC0415 (deferred for start-up)

    return sqlite.insert(table)


class Repository:
    """A repository of one concern's queries over the shared engine; rows come back as frozen dataclasses,
    so nothing outside the repository holds a session."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self._sessions()

    def _insert(self, table: Any) -> Any:
        return insert_for(self.engine, table)


class Database(Repository):
    """The database as a whole: is it there, and how many rows a table holds (for admins and tests)."""

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def count(self, table: Any) -> int:
        async with self.session() as s:
            return int(await s.scalar(select(func.count()).select_from(table)) or 0)
