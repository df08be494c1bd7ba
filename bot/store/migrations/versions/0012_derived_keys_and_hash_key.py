"""Hardening IV: keys minted through a self-link (`minted_keys`), the hash key kept once (`hash_keys`), and
the members last seen in teams' owning user groups (`team_group_members`).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "minted_keys",
        sa.Column("dataos_user_id", sa.Text(), primary_key=True),
        sa.Column("key_name", sa.Text(), primary_key=True),
        sa.Column("key_expiration", TS, primary_key=True),
        sa.Column("proof_fingerprint", sa.String(64), primary_key=True),
        sa.Column("proof_key_name", sa.Text(), nullable=False),
        sa.Column("proof_expiration", TS, nullable=False),
        sa.Column("slack_user_id", sa.String(32), nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("ended_at", TS, nullable=True),
    )
    op.create_index("ix_minted_keys_state", "minted_keys", ["state"])
    op.create_table(
        "hash_keys",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "team_group_members",
        sa.Column("app_user_id", sa.Text(), primary_key=True),
        sa.Column("group_id", sa.String(32), primary_key=True),
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("seen_at", TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("team_group_members")
    op.drop_table("hash_keys")
    op.drop_index("ix_minted_keys_state", table_name="minted_keys")
    op.drop_table("minted_keys")
