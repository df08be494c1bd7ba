"""`/apikey admin team <app-user> rotate vault:<mount>/<path>#<field> [every …] [before …] [grace …]` and
`… rotate off`: admins make a team key rotate itself into Vault, or stop it.

Refused with a sentence, and nothing stored: no team, a team whose DataOS user is not an application user
now (asked of DataOS, the directory refreshed when it thought otherwise: a rotation would make keys for a
person and write them to the store), no store configured, a malformed target or option, a path outside
VAULT_ALLOWED_PATHS, a secret that holds the bot's own key or another team's (whatever reads a secret reads
all its fields), an application user with no live key. A store that says the bot's
token lacks a capability on the path does not refuse (the policy may be granted next), but the admin reads
which policy is needed. Every outcome is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.app import Runtime
from bot.dataos import DataOSError
from bot.domain.durations import humanize_hours
from bot.domain.rotation import (
    RotationOptions,
    RotationRefused,
    VaultTarget,
    check_allowed,
    due_at,
    missing_capabilities,
    needed_capabilities,
    parse_rotate,
    parse_target,
    policy_for,
)
from bot.slack.blocks.rotation import schedule_words
from bot.slack.errors import explain
from bot.slack.owners import team_kind_problem
from bot.store import Audit
from bot.store.rotations import Target
from bot.text import shown
from bot.vault import VaultError

Say = Callable[..., Awaitable[None]]
USAGE = ("`/apikey admin team &lt;app-user&gt; rotate vault:&lt;mount&gt;/&lt;path&gt;#&lt;field&gt; [every 30d] "
         "[before 7d] [grace 1h]` makes its newest key rotate itself into Vault; `… rotate off` stops it.")


async def _audit(rt: Runtime, actor: str, outcome: str, app: str, detail: str | None = None) -> None:
    await rt.keys.trail.record(Audit(at=rt.clock(), actor_slack_id=actor, action="admin rotate", outcome=outcome[:32],
                                     dataos_user_id=app[:255], detail=detail and detail[:500]))


async def admin_rotate(rt: Runtime, actor: str, app: str, words: list[str], say: Say) -> None:
    if [w.lower() for w in words] == ["off"]:
        removed = await rt.rotations.remove_target(app)
        await _audit(rt, actor, "off" if removed else "was-off", app)
        await say(f"`{shown(app)}` no longer rotates; its channel gets the usual expiry reminders. A rotation already "
                  "under way finishes." if removed else f"`{shown(app)}` was not rotating. Nothing was changed.")
        return
    try:
        target, note = await _target(rt, actor, app, words)
    except RotationRefused as exc:
        await _audit(rt, actor, "refused", app, str(exc))
        await say(f":no_entry: {exc} Nothing was changed.\n{USAGE}")
        return
    except DataOSError as exc:
        await _audit(rt, actor, "failed", app)
        await say(":x: " + explain(exc, doing=f"listing the keys of {shown(app)}", read=True))
        return
    await rt.rotations.put_target(target, now=rt.clock())
    await _audit(rt, actor, "ok", app, f"{target.target} every {target.every_hours}h before {target.before_hours}h "
                                       f"grace {target.grace_seconds}s")
    words_now = schedule_words(target=target.target, every_hours=target.every_hours, before_hours=target.before_hours,
                               grace_seconds=target.grace_seconds, state="on", next_at=target.next_at,
                               last_error=None)
    await say(f":arrows_counterclockwise: `{shown(app)}` {words_now} (its key *{shown(target.key_name or '')}*). "
              f"Each rotation is announced in its team channel.{note}")


async def _target(rt: Runtime, actor: str, app: str, words: list[str]) -> tuple[Target, str]:
    team = await rt.teams.team_of(app)
    if team is None:
        raise RotationRefused(f"`{shown(app, 80)}` has no team: give it one first (`/apikey admin team {shown(app, 80)}"
                              " #channel @owner`), so that its rotations are announced and its owners can act.")
    problem = await team_kind_problem(rt, team)
    if problem is not None:
        raise RotationRefused(problem[1].removesuffix(" Nothing was changed."))
    if rt.vault is None:
        raise RotationRefused("No secret store is configured: the operator sets `VAULT_ADDR` and a way to log in "
                              "(see docs/rotation.md).")
    options = parse_rotate(words, max_hours=rt.policy.maximum)
    check_allowed(options.target, rt.settings.vault_allowed_paths)
    await _secret_of_its_own(rt, app, options.target)
    now = rt.clock()
    tokens = [t for t in await rt.dataos.list_tokens(app) if t.expiration > now]
    if not tokens:
        raise RotationRefused(f"`{shown(app, 80)}` has no live key to rotate; create one first.")
    newest = max(tokens, key=lambda t: (t.expiration, t.name))
    every = options.every_hours or await _current_validity(rt, app, newest.name, newest.expiration)
    if options.before_hours >= every:
        raise RotationRefused(f"`before` ({humanize_hours(options.before_hours)}) must be shorter than each key's "
                              f"validity ({humanize_hours(every)}).")
    target = Target(app, "team", str(options.target), every, options.before_hours,
                    int(options.grace.total_seconds()), "on", newest.name, newest.expiration,
                    due_at(newest.expiration, options.before_hours), actor, now)
    return target, await _capability_note(rt, options)


async def _secret_of_its_own(rt: Runtime, app: str, target: VaultTarget) -> None:
    """Whatever may read a secret reads all its fields: a team's key goes in a secret no other rotation writes,
    least of all the one that holds the bot's own key (DATAOS_APIKEY_FROM), or the team's workloads would read
    that key too (and a write keeps the fields beside the key)."""
    where = f"`{shown(target.location, 200)}`"
    own = [rt.settings.dataos_apikey_from or "", *(t.target for t in await rt.rotations.targets() if t.kind == "bot")]
    if any(_location(text) == target.location for text in own):
        raise RotationRefused(f"{where} holds the bot's own DataOS key (`DATAOS_APIKEY_FROM`): a team's key may not "
                              "be written there, or whatever reads it would read the bot's key too. Choose a secret "
                              "of the team's own.")
    for other in await rt.rotations.targets():
        if other.kind == "team" and other.app_user_id != app and _location(other.target) == target.location:
            raise RotationRefused(f"{where} already holds the key of `{shown(other.app_user_id, 80)}`: each team's "
                                  "key goes in a secret of its own, or whatever reads one would read the other's.")


def _location(text: str) -> str | None:
    try:
        return parse_target(text).location
    except RotationRefused:
        return None


async def _current_validity(rt: Runtime, app: str, name: str, expiration: datetime) -> int:
    """The current key's validity when the bot knows when it was made; the policy's default otherwise; never
    more than the policy's maximum."""
    sighting = await rt.sightings.get_sighting((app, name, expiration))
    hours = rt.policy.default
    if sighting is not None and sighting.created_at is not None:
        hours = max(1, int((expiration - sighting.created_at) / timedelta(hours=1)))
    return min(hours, rt.policy.maximum)


async def _capability_note(rt: Runtime, options: RotationOptions) -> str:
    """Ask Vault now what the bot may do on the path: a missing capability is said at once, with the policy."""
    assert rt.vault is not None
    try:
        held = await rt.vault.capabilities(list(needed_capabilities(options.target)))
    except VaultError as exc:
        return f"\n:warning: I could not ask Vault what the bot may do there ({shown(str(exc), 300)})."
    missing = missing_capabilities(options.target, held)
    if not missing:
        return ""
    lacking = "; ".join(f"`{path}`: {', '.join(caps)}" for path, caps in missing.items())
    return (f"\n:warning: Vault says the bot's token lacks {lacking}. Rotations fail until its policy grants:\n"
            f"```{policy_for(options.target)}```")
