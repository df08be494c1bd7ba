"""Enterprise Grid (issue #29): the workspaces an organisation-wide install was granted, and which of them each
member of the directory is in (so a revoked workspace's members leave only when they are in no other).

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_workspaces",
        sa.Column("team_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(255)),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("slack_members") as batch:
        # Space-separated ids of the granted workspaces the member is in; NULL on a single-workspace install.
        batch.add_column(sa.Column("teams", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slack_members") as batch:
        batch.drop_column("teams")
    op.drop_table("slack_workspaces")
