"""Governance (issue #28): approval requests and where they were posted; "Was this you?" notices about keys
the bot did not make, the owners they watch (the baseline) and where they were posted.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("remind_at", TS, nullable=False),
        sa.Column("reminded_at", TS),
        sa.Column("requester", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("dataos_user_id", sa.Text(), nullable=False),
        sa.Column("key_name", sa.Text(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("approvers", sa.String(1000), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("decided_at", TS),
        sa.Column("note", sa.String(1000)),
        sa.Column("delivery", sa.String(16)),
        sa.Column("delivery_at", TS),
        sa.Column("delivery_by", sa.String(128)),
        sa.Column("key_expiration", TS),
        sa.Column("origin", sa.String(32), nullable=False),
        sa.Column("origin_ref", sa.String(255)),
        sa.Column("renew_name", sa.Text()),
        sa.Column("renew_expiration", TS),
        sa.Column("renew_choice", sa.String(16)),
    )
    op.create_index("ix_approval_requests_expires_at", "approval_requests", ["expires_at"])
    op.create_index("ix_approval_requests_requester", "approval_requests", ["requester"])
    op.create_index("ix_approval_requests_state", "approval_requests", ["state"])
    op.create_table(
        "approval_messages",
        sa.Column("request_id", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("ts", sa.String(32), primary_key=True),
        sa.Column("recipient", sa.String(32), nullable=False),
    )
    op.create_table(
        "notice_owners",
        sa.Column("dataos_user_id", sa.Text(), primary_key=True),
        sa.Column("since", TS, nullable=False),
    )
    op.create_table(
        "key_notices",
        sa.Column("dataos_user_id", sa.Text(), primary_key=True),
        sa.Column("key_name", sa.Text(), primary_key=True),
        sa.Column("expiration", TS, primary_key=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("audience", sa.String(64), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", TS, nullable=False),
        sa.Column("answer", sa.String(16)),
        sa.Column("answered_by", sa.String(32)),
        sa.Column("answered_at", TS),
        sa.Column("escalated_at", TS),
        sa.Column("app_user", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ix_key_notices_group_id", "key_notices", ["group_id"])
    op.create_index("ix_key_notices_open", "key_notices", ["answer", "escalated_at"])
    op.create_table(
        "notice_messages",
        sa.Column("group_id", sa.String(32), primary_key=True),
        sa.Column("channel", sa.String(32), primary_key=True),
        sa.Column("ts", sa.String(32), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("notice_messages")
    op.drop_index("ix_key_notices_open", "key_notices")
    op.drop_index("ix_key_notices_group_id", "key_notices")
    op.drop_table("key_notices")
    op.drop_table("notice_owners")
    op.drop_table("approval_messages")
    op.drop_index("ix_approval_requests_state", "approval_requests")
    op.drop_index("ix_approval_requests_requester", "approval_requests")
    op.drop_index("ix_approval_requests_expires_at", "approval_requests")
    op.drop_table("approval_requests")
