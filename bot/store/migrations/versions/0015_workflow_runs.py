"""Workflow Builder steps (issue #29): each step execution, claimed once by its function_execution_id and
completed once.

Revision ID: 0015
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "workflow_runs",
        sa.Column("execution_id", sa.String(64), primary_key=True),
        sa.Column("callback_id", sa.String(64), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("request_id", sa.String(32)),
        sa.Column("finished_at", TS),
    )
    op.create_index("ix_workflow_runs_state", "workflow_runs", ["state"])


def downgrade() -> None:
    op.drop_index("ix_workflow_runs_state", table_name="workflow_runs")
    op.drop_table("workflow_runs")
