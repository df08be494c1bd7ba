"""The playground's teams (issue #22) and the baseline of its new-key notices (issue #28): kept in the bot's
database, so they are written once the bot's runtime exists and before it serves (`Playground.run_bot`)."""

from __future__ import annotations

from pydantic import SecretStr

from bot.app import Runtime
from bot.domain.rotation import due_at
from bot.playground.heimdall import HeimdallEmulator
from bot.playground.seed import (
    ADMIN,
    ROTATION_BEFORE_HOURS,
    ROTATION_MOUNT,
    ROTATION_PATH,
    TEAM_APP,
    TEAM_CHANNEL,
    TEAM_GROUP,
    TEAM_OWNERS,
)
from bot.store import migrate
from bot.store.rotations import Target
from bot.store.teams import Team


async def seed_teams(runtime: Runtime) -> None:
    """`etl-ingest` is owned by Ada and @data-eng-oncall (Grace), and reminded in #data-eng; its newest key
    rotates itself into `secret/pipelines/etl-ingest` (#27), whose version 1 holds it today."""
    await migrate(runtime.engine)  # the tables first: the bot's own start-up migrates again, a no-op
    if await runtime.teams.team_of(TEAM_APP) is None:
        await runtime.teams.repo.put(Team(TEAM_APP, TEAM_CHANNEL, TEAM_OWNERS, (TEAM_GROUP,), ADMIN,
                                          runtime.clock()))
    if await runtime.rotations.target(TEAM_APP) is None and runtime.vault is not None:
        now = runtime.clock()
        newest = max(await runtime.dataos.list_tokens(TEAM_APP), key=lambda t: t.expiration)
        assert newest.secret is not None
        await runtime.vault.write(ROTATION_MOUNT, ROTATION_PATH, {"apikey": newest.secret,
                                                                  "key_name": SecretStr(newest.name)}, cas=0)
        await runtime.rotations.put_target(Target(
            TEAM_APP, "team", f"vault:{ROTATION_MOUNT}/{ROTATION_PATH}#apikey", 30 * 24, ROTATION_BEFORE_HOURS,
            3600, "on", newest.name, newest.expiration, due_at(newest.expiration, ROTATION_BEFORE_HOURS), ADMIN,
            now), now=now)


async def seed_baseline(runtime: Runtime, emu: HeimdallEmulator) -> None:
    """The seeded keys are where "Was this you?" starts from (as a first discovery would make them): only
    keys made after this, "in the DataOS UI" (Controls), are news to their owners."""
    now = runtime.clock()
    owners = [uid for uid, user in emu.users.items() if "roles:id:operator" not in (user.get("tags") or [])]
    await runtime.notices.watch(owners, now)
    await runtime.notices.settle([(uid, t.name, t.expiration) for uid in owners
                                  for t in emu.tokens.get(uid, {}).values() if t.expiration > now], "baseline", now)
