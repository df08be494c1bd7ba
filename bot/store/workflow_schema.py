"""The table of Workflow Builder step executions (issue #29): one row per `function_execution_id`, claimed
before a step does anything, so that a `function_executed` Slack delivers again is handled once across
replicas and restarts. Ids, names and states only: never a key, never a function token.

Kept beside `schema` (on its `Base`) so that its migration and this model stay side by side.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.schema import Base, UTCDateTime


class WorkflowRun(Base):
    """A step's execution. `state`: running (claimed, working) | waiting (an approval request is open:
    `request_id`) | completing (its completion is being sent) | done | failed | unknown (Slack's answer to
    the completion was lost: never sent again)."""

    __tablename__ = "workflow_runs"
    execution_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    callback_id: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), index=True)
    request_id: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
