"""quality objectives and management-review meetings with decisions (ISO 9001 6.2, 9.3)

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capa_quality_objectives",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("metric", sa.String(48), nullable=False),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("track_state", sa.String(16), nullable=True),
        sa.Column("track_changed_at", UTCDateTime(), nullable=True),
    )
    op.create_table(
        "capa_management_reviews",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("pack_since", UTCDateTime(), nullable=False),
        sa.Column("pack_until", UTCDateTime(), nullable=False),
        sa.Column("pack_sha256", sa.String(64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(255), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "capa_review_decisions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("review_id", sa.Uuid(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("capa_id", sa.Uuid(), nullable=True),
        sa.Column("action_id", sa.Uuid(), nullable=True),
        sa.UniqueConstraint("review_id", "sequence", name="uq_capa_review_decisions_sequence"),
    )
    op.create_index("ix_capa_review_decisions_review_id", "capa_review_decisions",
                    ["review_id"])
    op.create_index("ix_capa_review_decisions_capa_id", "capa_review_decisions", ["capa_id"])


def downgrade() -> None:
    op.drop_index("ix_capa_review_decisions_capa_id", "capa_review_decisions")
    op.drop_index("ix_capa_review_decisions_review_id", "capa_review_decisions")
    op.drop_table("capa_review_decisions")
    op.drop_table("capa_management_reviews")
    op.drop_table("capa_quality_objectives")
