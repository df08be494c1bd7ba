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
    assert await rt.teams.owners_of(t) == ["UADA", "UGRACE"]
    slack.set_usergroup_members("SDATA", ["UHEIDI"])
    clock.advance(seconds=299)
    assert await rt.teams.is_owner("UGRACE", t)  # the cached answer, still under 5 minutes old
    clock.advance(seconds=2)
    assert not await rt.teams.is_owner("UGRACE", t)
    assert await rt.teams.is_owner("UHEIDI", t)


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


async def test_group_members_seen_say_each_change_once(store: Repositories) -> None:
    from bot.store.group_members import TeamGroupMembers

    seen = TeamGroupMembers(store.engine)
    first = await seen.observe("etl-ingest", "S1", ["UADA"], now=NOW)
    assert first.joined == [] and first.left == []  # a baseline: nobody "joined"
    change = await seen.observe("etl-ingest", "S1", ["UADA", "UBOB"], now=NOW)
    assert change.joined == ["UBOB"] and change.left == []
    again = await seen.observe("etl-ingest", "S1", ["UADA", "UBOB"], now=NOW)
    assert again.joined == [] and again.left == []
    gone = await seen.observe("etl-ingest", "S1", [], now=NOW)
    assert gone.joined == [] and sorted(gone.left) == ["UADA", "UBOB"]
    assert (await seen.observe("etl-ingest", "S1", [], now=NOW)).left == []  # an empty group is still "seen"
    await seen.baseline("etl-ingest", "S2", ["UCAROL"], now=NOW)
    assert (await seen.observe("etl-ingest", "S2", ["UCAROL"], now=NOW)).joined == []
    await seen.forget("etl-ingest", keep=["S2"])
    assert (await seen.observe("etl-ingest", "S1", ["UDAN"], now=NOW)).joined == []  # S1 forgotten: a new baseline


async def test_two_replicas_seeing_the_same_change_say_it_once(pg_engines: tuple[Repositories, Repositories]) -> None:
    import asyncio

    from bot.store.group_members import TeamGroupMembers

    one, two = (TeamGroupMembers(r.engine) for r in pg_engines)
    await one.observe("etl-ingest", "S1", [], now=NOW)
    for round_ in range(5):
        members = [f"U{round_}{i}" for i in range(4)]
        a, b = await asyncio.gather(one.observe("etl-ingest", "S1", members, now=NOW),
                                    two.observe("etl-ingest", "S1", members, now=NOW))
        assert sorted(a.joined + b.joined) == members  # each join said by exactly one replica
        previous = [f"U{round_ - 1}{i}" for i in range(4)] if round_ else []
        assert sorted(a.left + b.left) == previous
    # a first sighting on both at once: one baseline, nothing said
    a, b = await asyncio.gather(one.observe("etl-export", "S9", ["UX"], now=NOW),
                                two.observe("etl-export", "S9", ["UX"], now=NOW))
    assert a.joined + b.joined == [] and a.left + b.left == []
