"""Carrying out the revocations that fall due.

Each is claimed (`running`) for `LEASE` before DataOS is asked, and every way out of the attempt is
recorded: done, skipped (the key changed: a later key of the same name is never touched), or, on any
failure whatever its kind, pending again with what broke. A pass stopped by a shutdown hands its claim
back; a process killed outright leaves it until the lease has passed, and the next pass takes it again.
The `MAX_ATTEMPTS`th failed attempt gives up: the row is `failed` and its owners and the admins are told
(`notice`), with a button that revokes the key now.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from bot.dataos import DataOSError
from bot.slack.revocations import LEASE, MAX_ATTEMPTS
from bot.slack.revocations.notice import tell_given_up
from bot.store import Revocation

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


@dataclass
class Carried:
    """What one pass did with the revocations that were due."""

    revoked: int = 0
    changed: int = 0
    given_up: int = 0
    told: int = 0
    failures: list[str] = field(default_factory=list)


def claimer() -> str:
    return f"{socket.gethostname()[:64]}:{uuid.uuid4().hex[:8]}"


async def carry_out_due(rt: Runtime, *, worker: str, now: datetime) -> Carried:
    """One pass over the due (or abandoned) revocations, then the notices of those given up on."""
    done = Carried()
    for item in await rt.revocations.due_revocations(now, LEASE):
        attempts = await rt.revocations.take_revocation(item.id, now=rt.clock(), worker=worker, lease=LEASE)
        if attempts is None:
            continue  # another pass has it
        if attempts > MAX_ATTEMPTS:  # the last attempt's process went away mid-revocation
            await _give_up(rt, item, worker, item.error or "interrupted", done)
            continue
        await _attempt(rt, item, attempts, worker, done)
    done.told = await tell_given_up(rt, worker, rt.clock())
    return done


async def _attempt(rt: Runtime, item: Revocation, attempts: int, worker: str, done: Carried) -> None:
    try:
        outcome = (await rt.keys.revoke_exact(item.dataos_user_id, item.key_name, item.key_expiration,
                                              actor=item.requested_by, detail="scheduled at renewal")).outcome
    except asyncio.CancelledError:
        # A shutdown (a deploy): the claim is handed back, so the next pass, here or on another replica,
        # takes it at once. DataOS may have done it meanwhile; the next attempt re-reads the key first.
        await _finish(rt, item, "pending", worker, "interrupted")
        raise
    except Exception as exc:  # whatever broke, the row is never left `running`
        error = type(exc).__name__
        what = str(exc) if isinstance(exc, DataOSError) else error
        if not isinstance(exc, DataOSError):
            log.exception("scheduled revocation %s of %s failed", item.id, item.dataos_user_id)
        done.failures.append(f"{item.dataos_user_id}/{item.key_name}: scheduled revoke failed ({what}); "
                             f"attempt {attempts} of {MAX_ATTEMPTS}")
        if attempts >= MAX_ATTEMPTS:
            await _give_up(rt, item, worker, error, done)
        else:
            await _finish(rt, item, "pending", worker, error)
        return
    await _finish(rt, item, "skipped" if outcome == "changed" else "done", worker, None)
    if outcome == "revoked":
        done.revoked += 1
    elif outcome == "changed":
        done.changed += 1


async def _finish(rt: Runtime, item: Revocation, state: str, worker: str, error: str | None) -> None:
    # Not cancelled half-way by a shutdown: the outcome of what was done is worth the moment it takes.
    if not await asyncio.shield(rt.revocations.finish_revocation(item.id, state, worker=worker, error=error)):
        log.warning("scheduled revocation %s was taken over by another pass before it finished here", item.id)


async def _give_up(rt: Runtime, item: Revocation, worker: str, error: str, done: Carried) -> None:
    log.error("gave up the scheduled revocation of %s/%s after %d attempts (last: %s); its owners and the admins "
              "are told", item.dataos_user_id, item.key_name, MAX_ATTEMPTS, error)
    await _finish(rt, item, "failed", worker, error)
    done.given_up += 1
