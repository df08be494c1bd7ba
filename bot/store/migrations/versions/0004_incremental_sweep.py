"""The incremental sweep: when each person's keys were last listed (the age of the record), when the
last discovery began (shared by replicas, so one of them runs it), and the Slack directory as last
walked and updated by events (so a tick in a fresh process, e.g. from cron, needs no walk).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("swept_users") as batch:
        batch.add_column(sa.Column("listed_at", TS, nullable=True))
    op.create_table(
        "slack_members",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("tz", sa.String(64), nullable=True),
        sa.Column("tz_offset", sa.Integer, nullable=False, server_default="0"),
        sa.Column("name", sa.String(255), nullable=True),
    )
    op.create_table(
        "sweep_marks",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sweep_marks")
    op.drop_table("slack_members")
    with op.batch_alter_table("swept_users") as batch:
        batch.drop_column("listed_at")
