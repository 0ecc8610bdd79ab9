"""outbox, inbox and nonconformities

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
        "nonconformities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nonconformities")
    op.drop_table("processed_events")
    op.drop_table("outbox")
