"""Workflow step executions (issue #29): claimed once by `function_execution_id`, and completed once (every
change of state is a conditional UPDATE, so replicas and retries agree on who does what)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from bot.store.base import Repository
from bot.store.workflow_schema import WorkflowRun

#: Where a run may still be completed from.
UNFINISHED = ("running", "waiting")


@dataclass(frozen=True)
class Run:
    execution_id: str
    callback_id: str
    started_at: datetime
    state: str
    request_id: str | None = None
    finished_at: datetime | None = None


class WorkflowRuns(Repository):
    async def claim_run(self, execution_id: str, callback_id: str, now: datetime) -> bool:
        """True for the first delivery of this execution across replicas; False for a repeat."""
        stmt = self._insert(WorkflowRun).values(
            execution_id=execution_id, callback_id=callback_id, started_at=now, state="running",
        ).on_conflict_do_nothing(index_elements=[WorkflowRun.execution_id])
        async with self.engine.begin() as conn:
            result = await conn.execute(stmt)
            return bool(getattr(result, "rowcount", 0))

    async def get_run(self, execution_id: str) -> Run | None:
        async with self.session() as s:
            row = await s.get(WorkflowRun, execution_id)
            return None if row is None else _run(row)

    async def wait_for(self, execution_id: str, request_id: str | None) -> None:
        """The step waits: for the approval request `request_id` (completed when it is settled), or (None)
        for its person's answer to a button."""
        async with self.engine.begin() as conn:
            await conn.execute(update(WorkflowRun).where(
                WorkflowRun.execution_id == execution_id, WorkflowRun.state == "running",
            ).values(state="waiting", request_id=request_id))

    async def resume(self, execution_id: str) -> bool:
        """A waiting run goes on (its person answered): True once, for the first answer."""
        async with self.engine.begin() as conn:
            result = await conn.execute(update(WorkflowRun).where(
                WorkflowRun.execution_id == execution_id, WorkflowRun.state == "waiting",
                WorkflowRun.request_id.is_(None),
            ).values(state="running"))
            return bool(getattr(result, "rowcount", 0))

    async def begin_completion(self, execution_id: str) -> bool:
        """Claim the one completion of a run; False if it is done, failed, unknown, or another has it."""
        async with self.engine.begin() as conn:
            result = await conn.execute(update(WorkflowRun).where(
                WorkflowRun.execution_id == execution_id, WorkflowRun.state.in_(UNFINISHED),
            ).values(state="completing"))
            return bool(getattr(result, "rowcount", 0))

    async def end_completion(self, execution_id: str, state: str, now: datetime) -> None:
        """`state`: done, failed, unknown; or `waiting` again when Slack refused for now (nothing happened)."""
        finished = None if state == "waiting" else now
        async with self.engine.begin() as conn:
            await conn.execute(update(WorkflowRun).where(
                WorkflowRun.execution_id == execution_id, WorkflowRun.state == "completing",
            ).values(state=state, finished_at=finished))

    async def waiting_runs(self, limit: int = 200) -> list[Run]:
        async with self.session() as s:
            rows = (await s.scalars(select(WorkflowRun).where(WorkflowRun.state == "waiting",
                                                              WorkflowRun.request_id.is_not(None))
                                    .order_by(WorkflowRun.started_at).limit(limit))).all()
            return [_run(r) for r in rows]

    async def prune_runs(self, older_than: datetime) -> int:
        """Runs started before `older_than`, except those still waiting for an approval request (which
        completes them); a question its person never answered is over by then."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(WorkflowRun).where(
                WorkflowRun.started_at < older_than,
                or_(WorkflowRun.state != "waiting", WorkflowRun.request_id.is_(None))))
            return int(getattr(result, "rowcount", 0))


def _run(row: WorkflowRun) -> Run:
    return Run(row.execution_id, row.callback_id, row.started_at, row.state, row.request_id, row.finished_at)
