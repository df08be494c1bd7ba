"""Initial schema: identity links, audit log, idempotency keys, reminder ledger, key sightings, prefs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "identity_links",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("dataos_user_id", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("linked_by", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_slack_id", sa.String(32), nullable=False),
        sa.Column("dataos_user_id", sa.String(255)),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("key_name", sa.String(255)),
        sa.Column("key_expiration", TS),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("detail", sa.String(500)),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_dataos_user_id", "audit_log", ["dataos_user_id"])
    op.create_index("ix_audit_actor_at", "audit_log", ["actor_slack_id", "at"])
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("dataos_user_id", sa.String(255), nullable=False),
        sa.Column("key_name", sa.String(255)),
        sa.Column("key_expiration", TS),
    )
    op.create_table(
        "reminder_ledger",
        sa.Column("dataos_user_id", sa.String(255), primary_key=True),
        sa.Column("key_name", sa.String(255), primary_key=True),
        sa.Column("expiration", TS, primary_key=True),
        sa.Column("step", sa.String(32), primary_key=True),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sent_at", TS),
        sa.Column("slack_user_id", sa.String(32)),
        sa.Column("channel", sa.String(32)),
        sa.Column("ts", sa.String(32)),
    )
    op.create_table(
        "key_sightings",
        sa.Column("dataos_user_id", sa.String(255), primary_key=True),
        sa.Column("key_name", sa.String(255), primary_key=True),
        sa.Column("expiration", TS, primary_key=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("created_at", TS),
        sa.Column("muted", sa.Boolean, nullable=False),
        sa.Column("snoozed_until", TS),
    )
    op.create_table(
        "user_prefs",
        sa.Column("slack_user_id", sa.String(32), primary_key=True),
        sa.Column("reminders_enabled", sa.Boolean, nullable=False),
        sa.Column("first_used_at", TS),
    )


def downgrade() -> None:
    for table in ("user_prefs", "key_sightings", "reminder_ledger", "idempotency_keys", "audit_log",
                  "identity_links"):
        op.drop_table(table)
