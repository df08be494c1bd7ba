"""Reminders exactly once: strings from DataOS fit their columns whatever their length (TEXT), a step
label fits with an admin's id in it, and the ledger keeps why a DM was not delivered and when a
transient refusal may be tried again.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

#: Columns holding a DataOS user id or key name, which DataOS does not bound (a key made in its UI or CLI
#: may have any name). SQLite ignores VARCHAR lengths; PostgreSQL refused the whole claim batch.
FROM_DATAOS = {
    "reminder_ledger": ("dataos_user_id", "key_name"),
    "key_sightings": ("dataos_user_id", "key_name"),
    "swept_users": ("dataos_user_id",),
    "scheduled_revocations": ("dataos_user_id", "key_name"),
    "audit_log": ("dataos_user_id", "key_name"),
    "idempotency_keys": ("dataos_user_id", "key_name"),
    "identity_links": ("dataos_user_id",),
}


def upgrade() -> None:
    with op.batch_alter_table("reminder_ledger") as batch:
        batch.add_column(sa.Column("retry_at", TS, nullable=True))
        batch.add_column(sa.Column("error", sa.String(64), nullable=True))
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in FROM_DATAOS.items():
        for column in columns:
            # VARCHAR(n) to TEXT is binary-compatible on PostgreSQL: no table rewrite, indexes kept.
            op.alter_column(table, column, type_=sa.Text(), existing_type=sa.String(255))
    op.alter_column("reminder_ledger", "step", type_=sa.String(64), existing_type=sa.String(32))
    op.alter_column("reminder_ledger", "claimed_by", type_=sa.String(128), existing_type=sa.String(64))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("reminder_ledger", "claimed_by", type_=sa.String(64), existing_type=sa.String(128))
        op.alter_column("reminder_ledger", "step", type_=sa.String(32), existing_type=sa.String(64))
        for table, columns in FROM_DATAOS.items():
            for column in columns:
                op.alter_column(table, column, type_=sa.String(255), existing_type=sa.Text())
    with op.batch_alter_table("reminder_ledger") as batch:
        batch.drop_column("error")
        batch.drop_column("retry_at")
