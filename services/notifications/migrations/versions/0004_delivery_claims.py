"""deliveries: claims, so one process at a time attempts a delivery

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        # Which worker process holds the head of this queue, and until when: a
        # replica that dies mid-attempt loses its claims when they expire.
        batch.add_column(sa.Column("claimed_by", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claim_expires_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("claim_expires_at")
        batch.drop_column("claimed_by")
