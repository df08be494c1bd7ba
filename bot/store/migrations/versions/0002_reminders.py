"""Reminders: which users were swept, whether a key pre-dates its owner's first sweep, delayed revokes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("key_sightings") as batch:
        batch.add_column(sa.Column("preexisting", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "swept_users",
        sa.Column("dataos_user_id", sa.String(255), primary_key=True),
        sa.Column("first_swept_at", TS, nullable=False),
    )
    op.create_table(
        "scheduled_revocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dataos_user_id", sa.String(255), nullable=False),
        sa.Column("key_name", sa.String(255), nullable=False),
        sa.Column("revoke_at", TS, nullable=False),
        sa.Column("requested_by", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_scheduled_revocations_due", "scheduled_revocations", ["state", "revoke_at"])


def downgrade() -> None:
    op.drop_index("ix_scheduled_revocations_due", "scheduled_revocations")
    op.drop_table("scheduled_revocations")
    op.drop_table("swept_users")
    with op.batch_alter_table("key_sightings") as batch:
        batch.drop_column("preexisting")
