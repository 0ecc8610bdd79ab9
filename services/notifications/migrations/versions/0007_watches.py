"""subscriptions: watching (a person watching one CAPA or NC), unique per owner

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("watching", sa.String(64), nullable=True))
    op.create_index("uq_subscriptions_owner_watching", "subscriptions", ["owner", "watching"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_subscriptions_owner_watching", "subscriptions")
    # A plain DROP COLUMN (SQLite has it since 3.35): a batch rebuild reflects the
    # table, which fails inside the async migration env.
    op.drop_column("subscriptions", "watching")
