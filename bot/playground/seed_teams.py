"""The playground's teams (issue #22): kept in the bot's database, so they are written once the bot's
runtime exists and before it serves (`Playground.run_bot`)."""

from __future__ import annotations

from bot.app import Runtime
from bot.playground.seed import ADMIN, TEAM_APP, TEAM_CHANNEL, TEAM_GROUP, TEAM_OWNERS
from bot.store import migrate
from bot.store.teams import Team


async def seed_teams(runtime: Runtime) -> None:
    """`etl-ingest` is owned by Ada and @data-eng-oncall (Grace), and reminded in #data-eng."""
    await migrate(runtime.engine)  # the tables first: the bot's own start-up migrates again, a no-op
    if await runtime.teams.team_of(TEAM_APP) is None:
        await runtime.teams.repo.put(Team(TEAM_APP, TEAM_CHANNEL, TEAM_OWNERS, (TEAM_GROUP,), ADMIN,
                                          runtime.clock()))
