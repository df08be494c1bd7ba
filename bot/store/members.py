"""The Slack directory as last walked: who is in the workspace, their e-mail and time zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, delete, select

from bot.store.base import Repository
from bot.store.schema import SlackMember


@dataclass(frozen=True)
class Member:
    """What reminders need of a Slack member: who, their e-mail (for matching) and time zone."""

    slack_user_id: str
    email: str | None
    tz: str | None
    tz_offset: int
    name: str | None
    guest: bool = False

    def row(self) -> dict[str, Any]:
        return {"slack_user_id": self.slack_user_id, "email": (self.email or None) and self.email[:320],
                "tz": (self.tz or None) and self.tz[:64], "tz_offset": self.tz_offset,
                "name": (self.name or None) and self.name[:255], "guest": self.guest}



class Members(Repository):
    async def load_members(self) -> list[Member]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(SlackMember.slack_user_id, SlackMember.email, SlackMember.tz,
                                             SlackMember.tz_offset, SlackMember.name, SlackMember.guest))
            return [Member(*row) for row in rows]

    async def replace_members(self, members: Sequence[Member]) -> None:
        """A complete walk: the table becomes exactly `members`."""
        table = cast(Table, SlackMember.__table__)
        # An upsert, not a plain insert: two replicas may walk at the same moment.
        insert = self._insert(table)
        upsert = insert.on_conflict_do_update(index_elements=[table.c.slack_user_id], set_={
            c: insert.excluded[c] for c in ("email", "tz", "tz_offset", "name", "guest")})
        async with self.engine.begin() as conn:
            walked = {m.slack_user_id for m in members}
            gone = [uid for uid in (await conn.execute(select(table.c.slack_user_id))).scalars() if uid not in walked]
            for start in range(0, len(gone), 500):  # bounded IN lists, whatever the workspace's size
                await conn.execute(delete(table).where(table.c.slack_user_id.in_(gone[start:start + 500])))
            if members:
                await conn.execute(upsert, [m.row() for m in members])

    async def put_member(self, member: Member | None, slack_user_id: str) -> None:
        """One member changed (an event): stored, or removed when `member` is None (deactivated, a bot)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(SlackMember).where(SlackMember.slack_user_id == slack_user_id))
            if member is not None:
                await conn.execute(self._insert(SlackMember).values(**member.row()))
