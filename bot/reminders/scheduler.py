"""APScheduler 3 wiring: the sweep runs inside `apikey-bot serve`, once at start-up and then on an interval
(unless REMINDERS_ENABLED=false); housekeeping (`bot.housekeeping`) always runs, the same way.

One sweep at a time per process (`max_instances=1`); missed runs are coalesced into one, which is
enough because a sweep decides from the ledger what is due, so a late run catches up, never skips.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import undefined

from bot.housekeeping import INTERVAL_MINUTES, housekeeping
from bot.reminders.governance import INTERVAL_MINUTES as GOVERNANCE_MINUTES
from bot.reminders.governance import scheduled_governance
from bot.reminders.summary import SweepFailed
from bot.reminders.sweep import Sweeper, worker_name
from bot.rotation.engine import RotationEngine
from bot.vault import VaultError

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


async def scheduled_sweep(rt: Runtime) -> None:
    with rt.sweeping():
        await _sweep(rt)


async def _sweep(rt: Runtime) -> None:
    if rt.slack_stopped is not None:
        return  # said once, as an ERROR, when Slack refused the token; /readyz keeps saying it
    try:
        summary = await Sweeper(rt).run()
    except asyncio.CancelledError:
        # The scheduler cancels a running sweep when the bot shuts down; the sweep has recorded what it
        # sent by the time this runs. Not re-raised: APScheduler would log it as a failed job.
        log.warning("reminder sweep stopped by the shutdown; the next sweep goes on from what this one recorded")
        return
    except SweepFailed as exc:
        if rt.slack_stopped is None:  # (a refused token has had its one ERROR line: Runtime.stop_slack)
            log.error("reminder sweep could not run: %s", exc)
        return
    except Exception:
        log.exception("reminder sweep failed")
        return
    log.info("reminder sweep: %s", "; ".join(summary.lines()))


async def scheduled_housekeeping(rt: Runtime) -> None:
    with rt.sweeping():
        try:
            await housekeeping(rt)
        except asyncio.CancelledError:
            log.warning("housekeeping stopped by the shutdown; the next pass goes on")
        except Exception:
            log.exception("housekeeping failed")


#: How often rotations due (and graces that ended) are looked for; cheap: one query when nothing is due.
ROTATION_MINUTES = 1


async def scheduled_rotation(rt: Runtime, worker: str) -> None:
    """Keep the Vault token alive, then a rotation pass."""
    with rt.sweeping():
        try:
            if rt.vault is not None:
                try:
                    await rt.vault.keep_alive()
                except VaultError as exc:
                    log.warning("vault: the bot's token could not be kept alive: %s", exc)
            summary = await RotationEngine(rt, worker=worker).run()
        except asyncio.CancelledError:
            log.warning("rotation pass stopped by the shutdown; the next one goes on from what it recorded")
            return
        except Exception:
            log.exception("rotation pass failed")
            return
        if summary.lines():
            log.info("rotation pass: %s", "; ".join(summary.lines()))


async def scheduled_operator_key(rt: Runtime) -> None:
    """DATAOS_APIKEY_FROM: another replica may have rotated the bot's key; read it again."""
    with rt.sweeping():
        try:
            if rt.operator is not None:
                await rt.operator.refresh()
        except Exception:
            log.exception("reading the bot's own key again failed")


def start_scheduler(rt: Runtime) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    if rt.settings.reminders_enabled:
        scheduler.add_job(
            scheduled_sweep, IntervalTrigger(minutes=rt.settings.sweep_interval_minutes), args=[rt], id="sweep",
            # At start-up, to catch up, unless the runtime says otherwise (the playground sweeps when asked).
            next_run_time=datetime.now(UTC) if rt.sweep_at_start else undefined, max_instances=1, coalesce=True,
            misfire_grace_time=None,
        )
    scheduler.add_job(scheduled_housekeeping, IntervalTrigger(minutes=INTERVAL_MINUTES), args=[rt],
                      id="housekeeping", next_run_time=datetime.now(UTC), max_instances=1, coalesce=True,
                      misfire_grace_time=None)
    scheduler.add_job(scheduled_governance, IntervalTrigger(minutes=GOVERNANCE_MINUTES), args=[rt], id="governance",
                      next_run_time=datetime.now(UTC), max_instances=1, coalesce=True, misfire_grace_time=None)
    if rt.vault is not None:
        scheduler.add_job(scheduled_rotation, IntervalTrigger(minutes=ROTATION_MINUTES), args=[rt, worker_name()],
                          id="rotation", next_run_time=datetime.now(UTC) if rt.sweep_at_start else undefined,
                          max_instances=1, coalesce=True, misfire_grace_time=None)
    if rt.operator is not None:
        scheduler.add_job(scheduled_operator_key, IntervalTrigger(minutes=rt.settings.dataos_apikey_refresh_minutes),
                          args=[rt], id="operator-key", max_instances=1, coalesce=True, misfire_grace_time=None)
    scheduler.start()
    return scheduler
