"""Who was last seen in each user group that owns a team, so that an owner who appears or leaves through
a group is said once: by the replica whose insert (or delete) of that member took effect."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, select

from bot.store.base import Repository
from bot.store.schema import TeamGroupMember

#: The row that says "this group of this team has been seen" (an empty group is not an unseen one).
SEEN = ""


@dataclass(frozen=True)
class Change:
    joined: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


class TeamGroupMembers(Repository):
    async def observe(self, app_user_id: str, group_id: str, members: Iterable[str], *, now: datetime) -> Change:
        """Record `members` as the group's members for this team; who joined and who left since last seen,
        each reported to exactly one caller. The first sighting is a baseline: nobody joined."""
        now_members = {m for m in members if m}
        change = Change()
        async with self.session() as s, s.begin():
            # The write comes first: a concurrent first sighting waits here for the other one's members.
            first = await s.execute(self._insert(TeamGroupMember).values(
                app_user_id=app_user_id, group_id=group_id, slack_user_id=SEEN, seen_at=now).on_conflict_do_nothing())
            baseline = bool(getattr(first, "rowcount", 0))
            known = set((await s.scalars(select(TeamGroupMember.slack_user_id).where(
                TeamGroupMember.app_user_id == app_user_id, TeamGroupMember.group_id == group_id,
                TeamGroupMember.slack_user_id != SEEN))).all())
            for member in sorted(now_members - known):
                added = await s.execute(self._insert(TeamGroupMember).values(
                    app_user_id=app_user_id, group_id=group_id, slack_user_id=member, seen_at=now)
                    .on_conflict_do_nothing())
                if getattr(added, "rowcount", 0) and not baseline:
                    change.joined.append(member)
            for member in sorted(known - now_members):
                removed = await s.execute(delete(TeamGroupMember).where(
                    TeamGroupMember.app_user_id == app_user_id, TeamGroupMember.group_id == group_id,
                    TeamGroupMember.slack_user_id == member))
                if getattr(removed, "rowcount", 0) and not baseline:
                    change.left.append(member)
        return change

    async def baseline(self, app_user_id: str, group_id: str, members: Iterable[str], *, now: datetime) -> None:
        """The members as they are when an admin names the group: nothing to say about them."""
        async with self.session() as s, s.begin():
            await s.execute(delete(TeamGroupMember).where(TeamGroupMember.app_user_id == app_user_id,
                                                          TeamGroupMember.group_id == group_id))
            for member in [SEEN, *sorted({m for m in members if m})]:
                s.add(TeamGroupMember(app_user_id=app_user_id, group_id=group_id, slack_user_id=member, seen_at=now))

    async def forget(self, app_user_id: str, *, keep: Iterable[str] = ()) -> None:
        """A team ended, or stopped naming some groups: what was seen of the others goes."""
        kept = list(keep)
        async with self.session() as s, s.begin():
            stmt = delete(TeamGroupMember).where(TeamGroupMember.app_user_id == app_user_id)
            if kept:
                stmt = stmt.where(TeamGroupMember.group_id.not_in(kept))
            await s.execute(stmt)
