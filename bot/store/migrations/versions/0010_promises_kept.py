"""Promises kept under faults: a scheduled revocation's claim has a lease and a count of attempts (one
abandoned by a killed process is taken again; after a bounded number of failures people are told), and
a deactivation is remembered (what it removed, where its notices are) so a reactivation can undo it.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("scheduled_revocations") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("claimed_at", TS, nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(80), nullable=True))
        batch.add_column(sa.Column("error", sa.String(64), nullable=True))
    op.create_table(
        "offboardings",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("dataos_user_id", sa.Text(), nullable=True),
        sa.Column("deactivated_at", TS, nullable=False),
        sa.Column("reactivated_at", TS, nullable=True),
        sa.Column("teams", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("notices", sa.Text(), nullable=False, server_default="[]"),
    )


def downgrade() -> None:
    op.drop_table("offboardings")
    with op.batch_alter_table("scheduled_revocations") as batch:
        for column in ("error", "claimed_by", "claimed_at", "attempts"):
            batch.drop_column(column)
