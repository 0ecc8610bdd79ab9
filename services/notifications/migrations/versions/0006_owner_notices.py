"""subscriptions: purpose (the service's own owner-notice carriers), one per owner

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("purpose", sa.String(16), nullable=True))
    op.create_index("uq_subscriptions_owner_purpose", "subscriptions", ["owner", "purpose"],
                    unique=True)


def downgrade() -> None:
    op.drop_index("uq_subscriptions_owner_purpose", "subscriptions")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("purpose")
