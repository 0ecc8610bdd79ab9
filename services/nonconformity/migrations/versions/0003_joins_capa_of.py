"""recurrences wait for a CAPA that is being opened (joins_capa_of)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("nonconformities", sa.Column("joins_capa_of", sa.Uuid(), nullable=True))
    op.create_index("ix_nonconformities_joins_capa_of", "nonconformities", ["joins_capa_of"])


def downgrade() -> None:
    op.drop_index("ix_nonconformities_joins_capa_of", "nonconformities")
    op.drop_column("nonconformities", "joins_capa_of")
