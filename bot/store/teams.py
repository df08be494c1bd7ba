"""Teams: who owns an application user's keys (Slack people and user groups) and which channel hears
about them. Owners are kept as Slack ids only; who is in a group is asked of Slack at the time of use
(`bot.teams`), never stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from bot.store.base import Repository
from bot.store.schema import TeamRow


@dataclass(frozen=True)
class Team:
    app_user_id: str
    channel_id: str
    owner_users: tuple[str, ...]
    owner_groups: tuple[str, ...]
    created_by: str
    created_at: datetime


def _ids(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split() if part)


def _team(row: TeamRow) -> Team:
    return Team(row.app_user_id, row.channel_id, _ids(row.owner_users), _ids(row.owner_groups), row.created_by,
                row.created_at)


def _values(team: Team, now: datetime) -> dict[str, object]:
    return {"channel_id": team.channel_id, "owner_users": " ".join(dict.fromkeys(team.owner_users)),
            "owner_groups": " ".join(dict.fromkeys(team.owner_groups)), "created_by": team.created_by,
            "updated_at": now}


class TeamsRepo(Repository):
    async def get(self, app_user_id: str) -> Team | None:
        async with self.session() as s:
            row = await s.get(TeamRow, app_user_id)
            return _team(row) if row else None

    async def all(self) -> list[Team]:
        async with self.session() as s:
            rows = (await s.execute(select(TeamRow).order_by(TeamRow.app_user_id))).scalars().all()
            return [_team(row) for row in rows]

    async def put(self, team: Team, *, now: datetime | None = None) -> None:
        """Make the team, or replace the one of that application user (its `created_at` stays)."""
        values = _values(team, now or team.created_at)
        for _attempt in range(2):  # a concurrent first put of the same team wins the insert; update it then
            async with self.session() as s, s.begin():
                result = await s.execute(update(TeamRow).where(TeamRow.app_user_id == team.app_user_id)
                                         .values(**values))
                if getattr(result, "rowcount", 0):
                    return
            try:
                async with self.session() as s, s.begin():
                    s.add(TeamRow(app_user_id=team.app_user_id, created_at=team.created_at, **values))
                return
            except IntegrityError:
                continue
        raise RuntimeError(f"the team of {team.app_user_id} could not be stored")

    async def remove(self, app_user_id: str) -> bool:
        async with self.session() as s, s.begin():
            result = await s.execute(delete(TeamRow).where(TeamRow.app_user_id == app_user_id))
            return bool(getattr(result, "rowcount", 0))

    async def remove_owner_everywhere(self, slack_user_id: str) -> list[Team]:
        """The person stops owning every team they own directly; the teams that changed, as they are now."""
        changed: list[Team] = []
        async with self.session() as s, s.begin():
            rows = (await s.execute(select(TeamRow).where(TeamRow.owner_users.contains(slack_user_id, autoescape=True))
                                    .with_for_update())).scalars().all()
            for row in rows:
                owners = _ids(row.owner_users)
                if slack_user_id not in owners:
                    continue  # an id that merely contains this one
                row.owner_users = " ".join(o for o in owners if o != slack_user_id)
                changed.append(_team(row))
        return changed

    async def add_owner(self, app_user_id: str, slack_user_id: str, *, now: datetime) -> Team | None:
        """`slack_user_id` owns the team of `app_user_id` again (a reactivated member); the team as it is
        now, or None when it has no team any more."""
        async with self.session() as s, s.begin():
            row = (await s.execute(select(TeamRow).where(TeamRow.app_user_id == app_user_id)
                                   .with_for_update())).scalar_one_or_none()
            if row is None:
                return None
            owners = _ids(row.owner_users)
            if slack_user_id not in owners:
                row.owner_users = " ".join([*owners, slack_user_id])
                row.updated_at = now
            return _team(row)
