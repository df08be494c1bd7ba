"""Leak watch: keys seen pasted in channels, by a keyed hash only (never the key), so the same key
pasted again within a day updates the owner's DM instead of sending another.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leak_reports",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("dataos_user_id", sa.String(255), nullable=False),
        sa.Column("key_name", sa.String(255), nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("times", sa.Integer, nullable=False, server_default="1"),
        sa.Column("places", sa.String(2000), nullable=True),
        sa.Column("notified", sa.String(500), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("leak_reports")
