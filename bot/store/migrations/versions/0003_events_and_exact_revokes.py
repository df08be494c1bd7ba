"""Events API de-duplication (by event_id, shared by replicas), and scheduled revokes that name the
exact key (its expiration), so a later key of the same name is never deleted by mistake.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slack_events",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_slack_events_received_at", "slack_events", ["received_at"])
    with op.batch_alter_table("scheduled_revocations") as batch:
        batch.add_column(sa.Column("key_expiration", TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scheduled_revocations") as batch:
        batch.drop_column("key_expiration")
    op.drop_index("ix_slack_events_received_at", "slack_events")
    op.drop_table("slack_events")
