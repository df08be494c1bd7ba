"""Team keys: an application user's team (its owners, Slack people and user groups, and its channel).

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("app_user_id", sa.Text(), primary_key=True),
        sa.Column("channel_id", sa.String(32), nullable=False),
        sa.Column("owner_users", sa.Text(), nullable=False, server_default=""),
        sa.Column("owner_groups", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("teams")
