"""User preferences: who has used the bot, and who turned reminders off."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.base import Repository
from bot.store.schema import UserPrefs


class Preferences(Repository):
    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self._users_seen: set[str] = set()  # touch_user: already recorded by this process

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
