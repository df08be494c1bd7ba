"""Leak watch, reliably told: each DM about a pasted key is its own row (`leak_dms`: who, its state,
how often it was tried, where it landed), so a report counts as told only once a DM was delivered and
a failed one is tried again; the report keeps what a retry needs to write the DM again (where and by
whom it was posted, the key's expiration, whether it goes to the admins). The old `notified` column
(DM ids clipped at 500 characters) goes: its entries move to `leak_dms`.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "leak_dms",
        sa.Column("fingerprint", sa.String(64), primary_key=True),
        sa.Column("recipient", sa.String(32), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("channel", sa.String(32), nullable=True),
        sa.Column("ts", sa.String(32), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT fingerprint, notified, last_seen FROM leak_reports "
                                "WHERE notified IS NOT NULL AND notified <> ''")).all()
    dms = sa.table("leak_dms", sa.column("fingerprint"), sa.column("recipient"), sa.column("state"),
                   sa.column("attempts"), sa.column("channel"), sa.column("ts"), sa.column("updated_at"))
    moved = []
    for fingerprint, notified, last_seen in rows:
        for entry in str(notified).split():
            channel, _, ts = entry.partition(":")
            if channel and ts and len(channel) <= 32 and len(ts) <= 32:  # a clipped last entry is dropped
                # The recipient was not recorded before: the DM channel stands in for them.
                moved.append({"fingerprint": fingerprint, "recipient": channel, "state": "sent", "attempts": 1,
                              "channel": channel, "ts": ts, "updated_at": last_seen})
    if moved:
        op.bulk_insert(dms, moved)
    with op.batch_alter_table("leak_reports") as batch:
        batch.drop_column("notified")
        batch.add_column(sa.Column("poster", sa.String(32), nullable=True))
        batch.add_column(sa.Column("channel", sa.String(32), nullable=True))
        batch.add_column(sa.Column("message_ts", sa.String(32), nullable=True))
        batch.add_column(sa.Column("key_expiration", TS, nullable=True))
        batch.add_column(sa.Column("to_admins", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_index("ix_leak_reports_last_seen", "leak_reports", ["last_seen"])
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_idempotency_keys_created_at", "idempotency_keys")
    op.drop_index("ix_leak_reports_last_seen", "leak_reports")
    with op.batch_alter_table("leak_reports") as batch:
        for column in ("to_admins", "key_expiration", "message_ts", "channel", "poster"):
            batch.drop_column(column)
        batch.add_column(sa.Column("notified", sa.String(500), nullable=True))
    op.drop_table("leak_dms")
