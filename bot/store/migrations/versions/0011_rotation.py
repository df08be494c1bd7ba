"""Keys that renew themselves: rotation targets (where a team key, or the bot's own, rotates into Vault)
and rotations (one record per rotation, step by step, claimed with a lease).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "rotation_targets",
        sa.Column("app_user_id", sa.Text(), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("every_hours", sa.Integer(), nullable=True),
        sa.Column("before_hours", sa.Integer(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("key_name", sa.Text(), nullable=True),
        sa.Column("key_expiration", TS, nullable=True),
        sa.Column("next_at", TS, nullable=True),
        sa.Column("set_by", sa.String(32), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
    )
    op.create_index("ix_rotation_targets_next_at", "rotation_targets", ["next_at"])
    op.create_table(
        "rotations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("app_user_id", sa.Text(), nullable=False),
        sa.Column("active_for", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("step", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(64), nullable=False),
        sa.Column("old_name", sa.Text(), nullable=False),
        sa.Column("old_expiration", TS, nullable=False),
        sa.Column("new_name", sa.Text(), nullable=False),
        sa.Column("new_expiration", TS, nullable=True),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("grace_seconds", sa.Integer(), nullable=False),
        sa.Column("version_before", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("announce", sa.String(16), nullable=True),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("revoke_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("retry_at", TS, nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("successor", sa.String(16), nullable=True),
        sa.Column("claimed_by", sa.String(128), nullable=True),
        sa.Column("claimed_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.UniqueConstraint("active_for", name="uq_rotations_active_for"),
    )
    op.create_index("ix_rotations_app_user_id", "rotations", ["app_user_id"])


def downgrade() -> None:
    op.drop_index("ix_rotations_app_user_id", table_name="rotations")
    op.drop_table("rotations")
    op.drop_index("ix_rotation_targets_next_at", table_name="rotation_targets")
    op.drop_table("rotation_targets")
