"""Workflow step executions in the database, on SQLite and PostgreSQL: claimed once, resumed once, completed
once; only runs waiting for an approval are taken up by the governance pass; old ones are pruned, except
those an open approval request will complete."""

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


async def test_old_runs_are_pruned_except_those_waiting_for_an_approval(store: Repositories) -> None:
    runs = WorkflowRuns(store.engine)
    old = NOW - timedelta(days=40)
    for execution, request in (("FxA", "r"), ("FxB", "r"), ("FxC", None)):
        await runs.claim_run(execution, "request_app_user_key", old)
        await runs.wait_for(execution, request)
    await runs.begin_completion("FxA")
    await runs.end_completion("FxA", "done", old)
    await runs.claim_run("FxD", "create_dataos_key", NOW)  # recent: kept whatever its state
    assert await runs.prune_runs(older_than=NOW - timedelta(days=30)) == 2  # ended, and never answered
    assert [await runs.get_run(e) is not None for e in ("FxA", "FxB", "FxC", "FxD")] == [False, True, False, True]
