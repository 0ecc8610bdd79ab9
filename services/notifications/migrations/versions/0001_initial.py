"""outbox, inbox and subscriptions

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import create_inbox_table_v1, create_outbox_table_v1

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_table_v1()
    create_inbox_table_v1()
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2000), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("subscriptions")
    op.drop_table("processed_events")
    op.drop_table("outbox")
