"""effectiveness on schedule (check date and override on each verification) and
reminders sent once per (kind, record, due date)

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("capa_effectiveness_checks") as batch:
        batch.add_column(sa.Column("check_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("override_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("override_reason", sa.Text(), nullable=True))
    op.create_table(
        "capa_reminders",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("capa_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("kind", "record_id", "due_date", name="uq_capa_reminders_key"),
    )
    op.create_index("ix_capa_reminders_capa_id", "capa_reminders", ["capa_id"])


def downgrade() -> None:
    op.drop_index("ix_capa_reminders_capa_id", "capa_reminders")
    op.drop_table("capa_reminders")
    with op.batch_alter_table("capa_effectiveness_checks") as batch:
        batch.drop_column("override_reason")
        batch.drop_column("override_by")
        batch.drop_column("check_date")
