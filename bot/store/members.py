"""The Slack directory as last walked: who is in the workspace (or in the granted workspaces of an Enterprise
Grid organisation), their e-mail and time zone; and, on Grid, the workspaces granted to the bot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, select, update

from bot.store.base import Repository
from bot.store.schema import SlackMember, SlackWorkspace


@dataclass(frozen=True, slots=True)  # slots: a walk of an organisation stores 100,000 at once
class Member:
    """What reminders need of a Slack member: who, their e-mail (for matching) and time zone; on Grid, which
    granted workspaces they are in (empty on a single workspace)."""

    slack_user_id: str
    email: str | None
    tz: str | None
    tz_offset: int
    name: str | None
    guest: bool = False
    teams: tuple[str, ...] = ()

    def row(self) -> dict[str, Any]:
        return {"slack_user_id": self.slack_user_id, "email": (self.email or None) and self.email[:320],
                "tz": (self.tz or None) and self.tz[:64], "tz_offset": self.tz_offset,
                "name": (self.name or None) and self.name[:255], "guest": self.guest,
                "teams": " ".join(self.teams) or None}


@dataclass(frozen=True)
class GrantedWorkspace:
    team_id: str
    name: str | None


class Members(Repository):
    async def load_members(self) -> list[Member]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(SlackMember.slack_user_id, SlackMember.email, SlackMember.tz,
                                             SlackMember.tz_offset, SlackMember.name, SlackMember.guest,
                                             SlackMember.teams))
            return [Member(*row[:6], teams=tuple((row[6] or "").split())) for row in rows]

    async def replace_members(self, members: Sequence[Member]) -> None:
        """A complete walk: the table becomes exactly `members`."""
        table = cast(Table, SlackMember.__table__)
        # An upsert, not a plain insert: two replicas may walk at the same moment.
        insert = self._insert(table)
        upsert = insert.on_conflict_do_update(index_elements=[table.c.slack_user_id], set_={
            c: insert.excluded[c] for c in ("email", "tz", "tz_offset", "name", "guest", "teams")})
        async with self.engine.begin() as conn:
            walked = {m.slack_user_id for m in members}
            gone = [uid for uid in (await conn.execute(select(table.c.slack_user_id))).scalars() if uid not in walked]
            for start in range(0, len(gone), 500):  # bounded IN lists, whatever the workspace's size
                await conn.execute(delete(table).where(table.c.slack_user_id.in_(gone[start:start + 500])))
            for start in range(0, len(members), 5000):  # bounded statements, whatever the organisation's size
                await conn.execute(upsert, [m.row() for m in members[start:start + 5000]])

    async def put_member(self, member: Member | None, slack_user_id: str) -> None:
        """One member changed (an event): stored, or removed when `member` is None (deactivated, a bot)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(SlackMember).where(SlackMember.slack_user_id == slack_user_id))
            if member is not None:
                await conn.execute(self._insert(SlackMember).values(**member.row()))

    async def put_members(self, members: Iterable[Member], gone: Iterable[str]) -> None:
        """Several members changed at once (a workspace granted or revoked): stored, and `gone` removed."""
        members, gone = list(members), list(gone)
        async with self.engine.begin() as conn:
            ids = [m.slack_user_id for m in members] + gone
            for start in range(0, len(ids), 500):
                await conn.execute(delete(SlackMember).where(SlackMember.slack_user_id.in_(ids[start:start + 500])))
            for start in range(0, len(members), 5000):
                await conn.execute(self._insert(SlackMember), [m.row() for m in members[start:start + 5000]])

    # ---- Enterprise Grid: the workspaces the org admin granted -----------------------------------

    async def granted_workspaces(self) -> list[GrantedWorkspace]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(SlackWorkspace.team_id, SlackWorkspace.name)
                                      .where(SlackWorkspace.granted.is_(True)).order_by(SlackWorkspace.team_id))
            return [GrantedWorkspace(*row) for row in rows]

    async def set_workspaces(self, granted: Sequence[GrantedWorkspace], *, now: datetime,
                             complete: bool = False, revoked: Iterable[str] = ()) -> None:
        """`granted` are granted now (with their names when known), `revoked` are not; `complete` (a full
        `auth.teams.list`) means no other workspace is granted either."""
        table = cast(Table, SlackWorkspace.__table__)
        insert = self._insert(table)
        upsert = insert.on_conflict_do_update(index_elements=[table.c.team_id], set_={
            "granted": insert.excluded.granted, "changed_at": insert.excluded.changed_at,
            "name": insert.excluded.name})
        async with self.engine.begin() as conn:
            if complete:
                ids = {w.team_id for w in granted}
                await conn.execute(update(table).where(table.c.granted.is_(True), table.c.team_id.not_in(ids))
                                   .values(granted=False, changed_at=now))
            rows = [{"team_id": w.team_id, "name": w.name, "granted": True, "changed_at": now} for w in granted]
            if rows:
                await conn.execute(upsert, rows)
            for team in revoked:
                await conn.execute(update(table).where(table.c.team_id == team).values(granted=False,
                                                                                      changed_at=now))
