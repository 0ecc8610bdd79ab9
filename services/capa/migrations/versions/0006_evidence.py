"""evidence files on actions and verifications: content-addressed blobs, attachment rows

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The same two tables as nonconformity's (shared.evidence.store).
    op.create_table(
        "evidence_blobs",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("stored_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "evidence_attachments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("record_type", sa.String(32), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("filename", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("attached_by", sa.String(255), nullable=False),
        sa.Column("attached_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_evidence_attachments_record_id", "evidence_attachments", ["record_id"])
    op.create_index("ix_evidence_attachments_parent_id", "evidence_attachments", ["parent_id"])
    op.create_index("ix_evidence_attachments_sha256", "evidence_attachments", ["sha256"])


def downgrade() -> None:
    op.drop_table("evidence_attachments")
    op.drop_table("evidence_blobs")
