"""Identity hardening (issue #20 A): a self-link remembers the key that proved it (a keyed hash, its
name and expiry, never the key), so the link ends with that key; the Slack directory marks guests, and
is walked again so that guests and people from other organisations are sorted out by the new rule.

Self-links made before this revision have no proving key on record: they end the first time they are
used (the person is told and may link again with a live key).

Revision ID: 0006
Revises: 0008 (chained after main's 0008 when main was merged in; it was 0005 on its own)
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("identity_links") as batch:
        batch.add_column(sa.Column("proof_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("proof_key_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("proof_expiration", TS, nullable=True))
        batch.add_column(sa.Column("proof_checked_at", TS, nullable=True))
    op.create_index("ix_identity_links_proof_fingerprint", "identity_links", ["proof_fingerprint"])
    op.create_index("ix_identity_links_dataos_user_id", "identity_links", ["dataos_user_id"])
    with op.batch_alter_table("slack_members") as batch:
        batch.add_column(sa.Column("guest", sa.Boolean, nullable=False, server_default=sa.false()))
    # The stored walk may hold guests and Slack Connect members: the next sweep walks users.list again.
    op.execute("DELETE FROM slack_members")


def downgrade() -> None:
    with op.batch_alter_table("slack_members") as batch:
        batch.drop_column("guest")
    op.drop_index("ix_identity_links_dataos_user_id", "identity_links")
    op.drop_index("ix_identity_links_proof_fingerprint", "identity_links")
    with op.batch_alter_table("identity_links") as batch:
        batch.drop_column("proof_checked_at")
        batch.drop_column("proof_expiration")
        batch.drop_column("proof_key_name")
        batch.drop_column("proof_fingerprint")
