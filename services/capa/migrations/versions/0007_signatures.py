"""electronic signatures (21 CFR Part 11 §11.50, §11.70)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capa_signatures",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("move", sa.String(32), nullable=False),
        sa.Column("record_id", sa.String(64), nullable=False),
        sa.Column("meaning", sa.String(16), nullable=False),
        sa.Column("signer", sa.String(255), nullable=False),
        sa.Column("signer_name", sa.String(255), nullable=False),
        sa.Column("signed_at", UTCDateTime(), nullable=False),
        sa.Column("authenticated_at", UTCDateTime(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("scheme", sa.String(32), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("capa_id", "sequence", name="uq_capa_signatures_sequence"),
    )
    op.create_index("ix_capa_signatures_capa_id", "capa_signatures", ["capa_id"])


def downgrade() -> None:
    op.drop_index("ix_capa_signatures_capa_id", "capa_signatures")
    op.drop_table("capa_signatures")
