"""outbox, inbox and capas

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
        "capas",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("nonconformity_id", sa.Uuid(), nullable=True, unique=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("capas")
    op.drop_table("processed_events")
    op.drop_table("outbox")
