"""outbox: dead letters (rows the bus refused for good)

Revision ID: 0005
Revises: 0004
"""
from shared.migrations import (
    add_outbox_dead_letter_columns_v2,
    drop_outbox_dead_letter_columns_v2,
)

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_dead_letter_columns_v2()


def downgrade() -> None:
    drop_outbox_dead_letter_columns_v2()
