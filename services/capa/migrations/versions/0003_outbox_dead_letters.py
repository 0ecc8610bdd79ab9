"""outbox: dead letters (rows the bus refused for good)

Revision ID: 0003
Revises: 0002
"""
from shared.migrations import (
    add_outbox_dead_letter_columns_v2,
    drop_outbox_dead_letter_columns_v2,
)

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_dead_letter_columns_v2()


def downgrade() -> None:
    drop_outbox_dead_letter_columns_v2()
