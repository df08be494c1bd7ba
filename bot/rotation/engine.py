"""The rotation engine: starts the rotations that are due, and carries each one step by step.

A pass (`run`, from the scheduler every minute and from each reminder sweep) does two things:
- for each target whose watched key is due (`next_at`, from the record: no DataOS call otherwise), it
  lists that application user's keys, and starts a rotation of the newest one if it is still due (a key
  renewed by hand meanwhile only moves `next_at`);
- it takes every running rotation that no live lease holds and goes on from the step recorded.

**Once across replicas**: a rotation is a row with a unique `active_for` (one per application user), and
each step is recorded only while the replica still holds the claim (`bot.store.rotations`). **Never
revoked unverified**: the old key is revoked only at the last step, after the successor was read back
from the store and accepted by DataOS. **Failures**: a failed step is tried again after a pause, at most
twice in all (at once for an error a person must fix); then the owners get one channel message with Retry
and Renew by hand, the admins are told, and the target is marked failed so that the usual reminders ask
for a renew again. A successor that is certainly not in the store is revoked; one that may be is kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from bot.dataos import DataOSError, Token
from bot.domain.rotation import (
    DEFAULT_BEFORE_HOURS,
    DEFAULT_GRACE,
    due_at,
    is_due,
    policy_for,
    successor_name,
    validity_hours,
)
from bot.policy import PolicyUnavailable
from bot.rotation import steps
from bot.rotation.audience import audience
from bot.rotation.notices import tell_failure, tell_old_key_stuck, update_announcement
from bot.rotation.steps import Observe, StepFailed
from bot.slack.owners import team_kind_problem
from bot.store.rotations import Rotation, Target
from bot.vault import VaultError, VaultForbidden

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)
#: How long a claim on a rotation lasts without a step being recorded; a replica that died is taken over
#: after this.
LEASE = timedelta(minutes=5)
#: A failed step is tried again after this (the second failure gives up).
RETRY_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 2
#: The old key's revoke, after the grace, is tried again every RETRY_AFTER until it is done (or the key is gone);
#: from this many failures on, its owners and the admins are told, naming it (once each), and the announcement
#: that promised it would stop says it has not.
OLD_KEY_TELL_AFTER = 3
_tasks: set[asyncio.Task[None]] = set()  # rotations carried on in the background (Rotate now, Retry)
StartResult = Literal["started", "running", "changed", "no-rotation", "no-key", "no-store", "not-application",
                      "failed"]


@dataclass
class RotationSummary:
    started: int = 0
    done: int = 0
    failed: int = 0
    retrying: int = 0
    failures: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{label}: {n}" for label, n in (("rotations started", self.started), ("rotations done", self.done),
                                                ("rotations failed", self.failed),
                                                ("rotations to retry", self.retrying)) if n]
        return out + [f"rotation: {f}" for f in self.failures]


async def rotation_pass(rt: Runtime, worker: str, failures: list[str]) -> list[str]:
    """A pass for a reminder sweep: rotations due (and graces ended) are carried out by each sweep too, as by
    the scheduler's rotation job (the claims make that once). The reminders go out whatever the store does."""
    try:
        return (await RotationEngine(rt, worker=worker).run()).lines()
    except Exception as exc:
        log.exception("the rotation pass failed")
        failures.append(f"rotation pass: {type(exc).__name__}")
        return []


def _ignore(event: str, rotation: Rotation) -> None:
    return None


class RotationEngine:
    def __init__(self, rt: Runtime, *, worker: str, observe: Observe = _ignore) -> None:
        self.rt = rt
        self.worker = worker
        self.observe = observe

    # ---- a pass ----------------------------------------------------------------------------------

    async def run(self) -> RotationSummary:
        summary = RotationSummary()
        if self.rt.vault is None:
            return summary
        now = self.rt.clock()
        await self._ensure_bot_target(now)
        for target in await self.rt.rotations.due_targets(now):
            try:
                await self._consider(target, now, summary)
            except DataOSError as exc:
                summary.failures.append(f"{target.app_user_id}: listing its keys failed ({exc})")
        for rotation in await self.rt.rotations.runnable(self.rt.clock(), LEASE):
            await self.carry(rotation, summary)
        return summary

    async def _ensure_bot_target(self, now: datetime) -> None:
        """With DATAOS_APIKEY_FROM the bot's own key rotates too, into the place it is read from."""
        source = self.rt.settings.dataos_apikey_from
        if not source or self.rt.operator is None:
            return
        owner = await self.rt.keys.operator_user_id()
        if owner is None:
            return
        existing = await self.rt.rotations.target(owner)
        if existing is not None and existing.kind == "bot" and existing.target == source:
            return
        await self.rt.rotations.put_target(Target(owner, "bot", source, None, DEFAULT_BEFORE_HOURS,
                                                  int(DEFAULT_GRACE.total_seconds()), "on", None, None, None,
                                                  "DATAOS_APIKEY_FROM", now), now=now)

    def _current(self, target: Target, tokens: list[Token]) -> Token | None:
        """The key a target rotates: a team's newest; for the bot, the one it uses."""
        if target.kind == "bot":
            own = self.rt.operator_key.get_secret_value()
            return next((t for t in tokens if t.secret is not None and t.secret.get_secret_value() == own), None)
        return max(tokens, key=lambda t: (t.expiration, t.name)) if tokens else None

    async def _consider(self, target: Target, now: datetime, summary: RotationSummary) -> None:
        if await self.rt.rotations.active(target.app_user_id) is not None:
            return
        problem = await self._kind_problem(target)
        if problem is not None:
            summary.failures.append(f"{target.app_user_id}: not rotated ({problem[0]})")
            return
        tokens = [t for t in await self.rt.dataos.list_tokens(target.app_user_id) if t.expiration > now]
        current = self._current(target, tokens)
        if current is None:
            await self.rt.rotations.watch(target.app_user_id, key_name=target.key_name or "",
                                          key_expiration=target.key_expiration or now,
                                          next_at=now + timedelta(days=1), now=now,
                                          error="no live key to rotate; make one, and it rotates from then on")
            return
        if not is_due(now, current.expiration, target.before_hours):
            await self.rt.rotations.watch(target.app_user_id, key_name=current.name,
                                          key_expiration=current.expiration,
                                          next_at=due_at(current.expiration, target.before_hours), now=now)
            return
        if await self.begin(target, current, tokens, "schedule") is not None:
            summary.started += 1

    async def _kind_problem(self, target: Target) -> tuple[str, str] | None:
        """A team whose DataOS user is not an application user now rotates nothing: a rotation would make a key
        for whatever that id is now (a person re-created under it) and hand it to whoever reads the team's
        secret. Asked of DataOS each time (`team_kind_problem`, which tells the admins once); the target is
        marked failed with that sentence, so its reminders ask for a renew (for a real application user)."""
        if target.kind != "team":
            return None
        team = await self.rt.teams.team_of(target.app_user_id)
        problem = await team_kind_problem(self.rt, team) if team is not None else None
        if problem is not None and problem[0] != "unavailable" and target.state != "failed":
            await self.rt.rotations.fail_target(target.app_user_id, error=problem[1], now=self.rt.clock())
            log.warning("rotation of %s stopped: %s", target.app_user_id, problem[0])
        return problem

    async def begin(self, target: Target, old: Token, tokens: list[Token], trigger: str) -> Rotation | None:
        """A new rotation of `old` (None if one runs already for that application user)."""
        now = self.rt.clock()
        hours = validity_hours(target.every_hours, None, max_hours=await self._cap(target),
                               fallback_hours=self.rt.policy.default)
        name = successor_name(old.name, now, {t.name for t in tokens})
        rotation = await self.rt.rotations.start(
            app_user_id=target.app_user_id, kind=target.kind, target=target.target, trigger=trigger,
            old_name=old.name, old_expiration=old.expiration, new_name=name, hours=hours,
            grace_seconds=target.grace_seconds, now=now)
        if rotation is not None:
            log.info("rotation %d of %s/%s started (%s)", rotation.id, target.app_user_id, old.name, trigger)
            await steps.audit(self.rt, "rotate start", "ok", target.app_user_id, old.name, old.expiration,
                              f"rotation {rotation.id} into {target.target}; successor {name}; {trigger}")
        return rotation

    async def _cap(self, target: Target) -> int:
        """The longest validity a team key may have: the key policy's maximum (#28) for team keys, as it applies
        to the admin who set the rotation (without POLICY_FILE, MAX_VALIDITY)."""
        if target.kind != "team":
            return self.rt.policy.maximum
        try:
            return await self.rt.governance.max_hours(target.set_by, "team")
        except PolicyUnavailable:  # Slack cannot say who is in the policy's groups: the defaults' maximum
            return self.rt.governance.opening_form().maximum

    async def start_now(self, app_user_id: str, name: str, expiration: datetime, trigger: str) -> StartResult:
        """Rotate now (an owner's button, or Retry): only if the rotation is on (or failed), no other runs,
        and `name`/`expiration` is still the application user's newest key. The rotation itself goes on in
        this pass (the caller runs it in the background)."""
        if self.rt.vault is None:
            return "no-store"
        target = await self.rt.rotations.target(app_user_id)
        if target is None:
            return "no-rotation"
        if await self.rt.rotations.active(app_user_id) is not None:
            return "running"
        problem = await self._kind_problem(target)
        if problem is not None:
            return "not-application" if problem[0] != "unavailable" else "failed"
        now = self.rt.clock()
        tokens = [t for t in await self.rt.dataos.list_tokens(app_user_id) if t.expiration > now]
        current = self._current(target, tokens)
        if current is None:
            return "no-key"
        if current.name != name or int(current.expiration.timestamp()) != int(expiration.timestamp()):
            return "changed"
        if target.state != "on":
            await self.rt.rotations.watch(app_user_id, key_name=current.name, key_expiration=current.expiration,
                                          next_at=due_at(current.expiration, target.before_hours), now=now)
        rotation = await self.begin(target, current, tokens, trigger)
        if rotation is None:
            return "running"
        self._background(rotation)
        return "started"

    def _background(self, rotation: Rotation) -> None:
        """Carry a rotation started by a person on, after their answer (shutdown waits for it)."""

        async def carry() -> None:
            async with self.rt.work():
                try:
                    await self.carry(rotation, RotationSummary())
                except Exception:
                    log.exception("rotation %d of %s stopped", rotation.id, rotation.app_user_id)

        task = asyncio.create_task(carry())
        _tasks.add(task)
        task.add_done_callback(_tasks.discard)

    # ---- one rotation ----------------------------------------------------------------------------

    async def carry(self, rotation: Rotation, summary: RotationSummary) -> None:
        """Claim a rotation and take it through its steps as far as it can go now."""
        rot = await self.rt.rotations.claim(rotation.id, worker=self.worker, now=self.rt.clock(), lease=LEASE)
        if rot is None:
            return
        try:
            await self._steps(rot, summary)
        except _Lost:
            log.warning("rotation %d of %s was taken over by another replica; this one stops", rot.id,
                        rot.app_user_id)

    async def _steps(self, rot: Rotation, summary: RotationSummary) -> None:
        store = self.rt.vault
        assert store is not None
        while True:
            try:
                if rot.step == "create":
                    outcome = await steps.create(self.rt, rot, self.observe)
                elif rot.step == "write":
                    outcome = await steps.write(self.rt, store, rot, self.observe)
                elif rot.step == "verify":
                    outcome = await steps.verify(self.rt, store, rot, self.observe)
                elif rot.step == "announce":
                    outcome = await steps.announce(self.rt, rot, self.observe, await audience(self.rt, rot),
                                                   functools.partial(self._record, rot, {"announce": "sending"}))
                elif rot.step == "grace":
                    if rot.revoke_at is not None and rot.revoke_at > self.rt.clock():
                        await self.rt.rotations.release(rot.id, worker=self.worker, now=self.rt.clock())
                        return
                    await self._revoke(rot)
                    summary.done += 1
                    return
                else:
                    return
            except (StepFailed, VaultError, DataOSError) as exc:
                await self._failed(rot, exc, summary)
                return
            values = dict(outcome.values)
            values.setdefault("step", outcome.step)
            if outcome.step != rot.step:
                values.setdefault("attempts", 0)
                values.setdefault("error", None)
            rot = await self._record(rot, values)
            if rot.step == "grace":
                await self._switched(rot)
            self.observe(f"step:{rot.step}", rot)

    async def _record(self, rot: Rotation, values: dict[str, Any]) -> Rotation:
        if not await self.rt.rotations.advance(rot.id, worker=self.worker, now=self.rt.clock(), **values):
            raise _Lost
        return dataclasses.replace(rot, **values)  # what the row holds now (read back, it would cost a query)

    async def _switched(self, rot: Rotation) -> None:
        """The successor is verified and announced: the target watches it now; the bot's own key is used by
        this replica at once (the others re-read the store on a timer, or when DataOS refuses the old one)."""
        target = await self.rt.rotations.target(rot.app_user_id)
        if target is not None and rot.new_expiration is not None:
            await self.rt.rotations.watch(rot.app_user_id, key_name=rot.new_name, key_expiration=rot.new_expiration,
                                          next_at=due_at(rot.new_expiration, target.before_hours), now=self.rt.clock())
        if rot.kind == "bot":
            token = await steps.successor(self.rt, rot)
            if token.secret is not None:
                self.rt.use_operator_key(token.secret)

    async def _revoke(self, rot: Rotation) -> None:
        now = self.rt.clock()
        done = await self.rt.keys.revoke_exact(rot.app_user_id, rot.old_name, rot.old_expiration, actor="rotation",
                                               detail=f"rotation {rot.id}: replaced by {rot.new_name}")
        self.observe("revoked", rot)
        words = steps.revoke_words(done.outcome, now)
        await update_announcement(self.rt, rot, words, await audience(self.rt, rot))
        if not await self.rt.rotations.finish(rot.id, worker=self.worker, now=now, step="done"):
            raise _Lost
        await steps.audit(self.rt, "rotate done", "ok", rot.app_user_id, rot.new_name, rot.new_expiration,
                          f"rotation {rot.id}: version {rot.version} of {rot.target}; old key {done.outcome}")
        self.observe("step:done", rot)

    async def _failed(self, rot: Rotation, exc: Exception, summary: RotationSummary) -> None:
        now = self.rt.clock()
        reason = self._sentence(rot, exc)
        if rot.step == "grace":  # the new key is in place: only the old key's revoke failed; tried again later
            await self._old_key_failed(rot, reason, summary)
            return
        attempts = rot.attempts + 1
        needs_person = steps.needs_person(exc)
        log.warning("rotation %d of %s failed at %s (attempt %d): %s", rot.id, rot.app_user_id, rot.step, attempts,
                    reason)
        if attempts < MAX_ATTEMPTS and not needs_person:
            await self.rt.rotations.release(rot.id, worker=self.worker, now=now, attempts=attempts,
                                            retry_at=now + RETRY_AFTER, error=reason[:500])
            summary.retrying += 1
            return
        successor = await self._successor_after_failure(rot, exc)
        if not await self.rt.rotations.finish(rot.id, worker=self.worker, now=now, step="failed", attempts=attempts,
                                              error=reason[:500], successor=successor):
            return
        await self.rt.rotations.fail_target(rot.app_user_id, error=reason, now=now)
        await steps.audit(self.rt, "rotate", "failed", rot.app_user_id, rot.old_name, rot.old_expiration,
                          f"rotation {rot.id} at {rot.step}: {reason}; successor {successor}")
        summary.failed += 1
        await tell_failure(self.rt, rot, reason, successor)

    async def _old_key_failed(self, rot: Rotation, reason: str, summary: RotationSummary) -> None:
        """The old key's revoke failed: tried again after RETRY_AFTER, until it is done or the key is gone. From
        OLD_KEY_TELL_AFTER failures on, the record says so and the owners and admins are told (once each)."""
        now = self.rt.clock()
        attempts = rot.attempts + 1
        stuck = attempts >= OLD_KEY_TELL_AFTER
        error = (f"the old key {rot.old_name} could not be revoked after {attempts} attempts ({reason}); its owners "
                 "and the admins were told" if stuck else reason)
        if not await self.rt.rotations.release(rot.id, worker=self.worker, now=now, attempts=attempts,
                                               retry_at=now + RETRY_AFTER, error=error[:500]):
            return
        summary.retrying += 1
        log.warning("rotation %d of %s: the old key %s could not be revoked (attempt %d): %s", rot.id,
                    rot.app_user_id, rot.old_name, attempts, reason)
        if not stuck:
            return
        summary.failures.append(f"{rot.app_user_id}: the old key {rot.old_name} could not be revoked after its "
                                f"rotation ({attempts} attempts); its owners and the admins are told")
        if attempts == OLD_KEY_TELL_AFTER:
            await steps.audit(self.rt, "rotate revoke", "failed", rot.app_user_id, rot.old_name, rot.old_expiration,
                              f"rotation {rot.id}: {reason}; {attempts} attempts; owners and admins told")
        await tell_old_key_stuck(self.rt, dataclasses.replace(rot, attempts=attempts), reason, self.worker,
                                 first=attempts == OLD_KEY_TELL_AFTER)

    async def _successor_after_failure(self, rot: Rotation, exc: Exception) -> str:
        """Revoke a successor that is certainly not in the store; keep one that may be (a workload may
        already read it)."""
        if rot.step in ("verify", "announce") or (rot.step == "write" and not steps.not_written(exc)):
            return "kept"
        try:
            expiration = rot.new_expiration or (
                await self.rt.dataos.get_token(rot.app_user_id, rot.new_name)).expiration
            done = await self.rt.keys.revoke_exact(rot.app_user_id, rot.new_name, expiration, actor="rotation",
                                                   detail=f"rotation {rot.id} failed before the store had it")
        except DataOSError:
            return "none" if rot.step == "create" else "kept"
        return "revoked" if done.outcome == "revoked" else "none"

    def _sentence(self, rot: Rotation, exc: Exception) -> str:
        if isinstance(exc, VaultForbidden):
            target = steps.target_of(rot)
            policy = policy_for(target).replace("\n", " ")
            return (f"Vault refused the bot's token on `{exc.path or target.data_path}` (permission denied). The "
                    f"bot's Vault policy needs: `{policy}`")
        return str(exc)


class _Lost(Exception):
    """Another replica took the claim over (this one was too slow): it stops without acting further."""
