"""an NC names the supplier it came from (canonical code)

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
    with op.batch_alter_table("nonconformities") as batch:
        batch.add_column(sa.Column("supplier_code", sa.String(32), nullable=True))


def downgrade() -> None:
    # A plain DROP COLUMN (SQLite has it since 3.35): a batch rebuild reflects the
    # table, which fails inside the async migration env.
    op.drop_column("nonconformities", "supplier_code")
