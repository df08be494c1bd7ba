"""Workflow step executions in the database, on SQLite and PostgreSQL: claimed once, resumed once, completed
once; only runs waiting for an approval are taken up by the governance pass; ended ones are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.workflow_runs import WorkflowRuns
from tests.repositories import Repositories

NOW = datetime(2026, 12, 7, 9, tzinfo=UTC)


async def test_an_execution_is_claimed_resumed_and_completed_once(store: Repositories) -> None:
    runs = WorkflowRuns(store.engine)
    assert await runs.claim_run("Fx1", "create_dataos_key", NOW)
    assert not await runs.claim_run("Fx1", "create_dataos_key", NOW)  # Slack's retry
    await runs.wait_for("Fx1", None)  # asking its person
    assert await runs.waiting_runs() == []  # not the governance pass's: nobody approves it
    assert await runs.resume("Fx1") and not await runs.resume("Fx1")  # a double click
    assert await runs.begin_completion("Fx1") and not await runs.begin_completion("Fx1")
    await runs.end_completion("Fx1", "done", NOW)
    run = await runs.get_run("Fx1")
    assert run is not None and run.state == "done" and run.finished_at == NOW
    assert not await runs.begin_completion("Fx1")


async def test_a_run_waiting_for_approval_is_completed_once_even_after_slack_refused(store: Repositories) -> None:
    runs = WorkflowRuns(store.engine)
    await runs.claim_run("Fx2", "request_app_user_key", NOW)
    await runs.wait_for("Fx2", "req000000001")
    assert [r.request_id for r in await runs.waiting_runs()] == ["req000000001"]
    assert await runs.begin_completion("Fx2")
    await runs.end_completion("Fx2", "waiting", NOW)  # Slack refused for now: try again
    assert [r.execution_id for r in await runs.waiting_runs()] == ["Fx2"]
    assert await runs.begin_completion("Fx2")
    await runs.end_completion("Fx2", "unknown", NOW)  # the answer was lost: never again
    assert await runs.waiting_runs() == [] and not await runs.begin_completion("Fx2")


async def test_ended_runs_are_pruned_and_waiting_ones_kept(store: Repositories) -> None:
    runs = WorkflowRuns(store.engine)
    old = NOW - timedelta(days=40)
    for execution, state in (("FxA", "done"), ("FxB", "waiting")):
        await runs.claim_run(execution, "request_app_user_key", old)
        await runs.wait_for(execution, "r")
        if state == "done":
            await runs.begin_completion(execution)
            await runs.end_completion(execution, "done", old)
    assert await runs.prune_runs(older_than=NOW - timedelta(days=30)) == 1
    assert await runs.get_run("FxA") is None and await runs.get_run("FxB") is not None
