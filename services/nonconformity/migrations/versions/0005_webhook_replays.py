"""received_webhooks: the body's digest and the NC it gave, so a replay gets its answer

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("received_webhooks") as batch:
        # Rows from before have neither: their replays stay refused (409).
        batch.add_column(sa.Column("body_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("nonconformity_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("received_webhooks") as batch:
        batch.drop_column("nonconformity_id")
        batch.drop_column("body_sha256")
