"""The teams repository (SQLite and PostgreSQL) and the Teams service's ownership rules, against the
Slack fake's `usergroups.users.list`."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import Runtime
from bot.playground.slack import SlackFake
from bot.store.teams import Team, TeamsRepo
from bot.teams import describe_owners
from tests.conftest import FakeClock
from tests.repositories import Repositories

NOW = datetime(2026, 11, 27, 10, tzinfo=UTC)


def team(app: str = "etl-ingest", users: tuple[str, ...] = ("UADA",), groups: tuple[str, ...] = ()) -> Team:
    return Team(app, "CTEAM", users, groups, "UADMIN", NOW)


async def test_a_team_is_made_replaced_listed_and_removed(store: Repositories) -> None:
    repo = TeamsRepo(store.engine)
    assert await repo.get("etl-ingest") is None
    await repo.put(team(users=("UADA", "UBOB"), groups=("S1",)))
    await repo.put(team("zz-loader", users=("UBOB",)))
    assert await repo.get("etl-ingest") == team(users=("UADA", "UBOB"), groups=("S1",))
    replaced = Team("etl-ingest", "COTHER", ("UCAROL",), (), "UADMIN2", datetime(2027, 1, 1, tzinfo=UTC))
    await repo.put(replaced, now=datetime(2027, 1, 1, tzinfo=UTC))
    got = await repo.get("etl-ingest")
    assert got is not None and got.owner_users == ("UCAROL",) and got.channel_id == "COTHER"
    assert got.created_at == NOW  # made once; a replacement keeps when
    assert [t.app_user_id for t in await repo.all()] == ["etl-ingest", "zz-loader"]
    assert await repo.remove("etl-ingest") is True
    assert await repo.remove("etl-ingest") is False
    assert [t.app_user_id for t in await repo.all()] == ["zz-loader"]


async def test_an_owner_leaves_every_team_and_only_those_change(store: Repositories) -> None:
    repo = TeamsRepo(store.engine)
    await repo.put(team("a", users=("UADA", "UBOB")))
    await repo.put(team("b", users=("UADA",), groups=("S1",)))
    await repo.put(team("c", users=("UADAM",)))  # an id that merely contains UADA's
    changed = await repo.remove_owner_everywhere("UADA")
    assert sorted((t.app_user_id, t.owner_users) for t in changed) == [("a", ("UBOB",)), ("b", ())]
    assert (await repo.get("c")) == team("c", users=("UADAM",))
    assert (await repo.get("b")) == team("b", users=(), groups=("S1",))
    assert await repo.remove_owner_everywhere("UADA") == []


async def test_group_members_own_within_five_minutes_of_a_change(rt: Runtime, slack: SlackFake,
                                                                 clock: FakeClock) -> None:
    slack.add_usergroup("SDATA", "data-eng", ["UGRACE"])
    t = team(users=("UADA",), groups=("SDATA",))
    await rt.teams.repo.put(t)
    assert await rt.teams.is_owner("UADA", t)
    assert await rt.teams.is_owner("UGRACE", t)
    assert not await rt.teams.is_owner("UMALLORY", t)
    assert [x.app_user_id for x in await rt.teams.owned_by("UGRACE")] == ["etl-ingest"]
    assert await rt.teams.owners_of(t) == ["UADA", "UGRACE"]
    slack.set_usergroup_members("SDATA", ["UHEIDI"])
    clock.advance(seconds=299)
    assert await rt.teams.is_owner("UGRACE", t)  # the cached answer, still under 5 minutes old
    clock.advance(seconds=2)
    assert not await rt.teams.is_owner("UGRACE", t)
    assert await rt.teams.is_owner("UHEIDI", t)
    assert await rt.teams.owned_by("UGRACE") == []


async def test_a_group_slack_cannot_read_admits_nobody(rt: Runtime, slack: SlackFake) -> None:
    t = team(users=(), groups=("SGONE",))
    assert not await rt.teams.is_owner("UGRACE", t)
    slack.add_usergroup("SGONE", "gone", ["UGRACE"])
    slack.fail("usergroups.users.list", "ratelimited")
    assert not await rt.teams.is_owner("UGRACE", t)  # a failure is not cached: asked again next time
    assert await rt.teams.is_owner("UGRACE", t)


def test_owners_are_described_as_mentions() -> None:
    assert describe_owners(team(users=("UADA",))) == "<@UADA>"
    assert describe_owners(team(users=("UADA", "UBOB"), groups=("S1",))) == "<@UADA>, <@UBOB> and <!subteam^S1>"
