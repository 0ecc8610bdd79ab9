"""nonconformity intake: full NC record, tags, occurrences, history, numbers,
received webhooks, idempotency keys

The 0001 skeleton table ``nonconformities`` never held data (no API wrote
to it), so it is replaced rather than altered column by column.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime
from shared.migrations import create_idempotency_table_v1

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("nonconformities")
    op.create_table(
        "nonconformities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("category", sa.String(100), nullable=True),
        sa.Column("affected_item", sa.String(200), nullable=True),
        sa.Column("external_ref", sa.String(200), nullable=True),
        sa.Column("reporter", sa.String(200), nullable=True),
        sa.Column("reported_by", sa.String(255), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=True),
        sa.Column("occurrence_count", sa.Integer(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("truncated_alerts", sa.Integer(), nullable=False),
        sa.Column("recurrence_key", sa.String(310), nullable=True),
        sa.Column("audit_ref", sa.String(100), nullable=True),
        sa.Column("clause", sa.String(20), nullable=True),
        sa.Column("finding_type", sa.String(16), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("auditor", sa.String(200), nullable=True),
        sa.Column("process_audited", sa.String(200), nullable=True),
        sa.Column("triage_reason", sa.Text(), nullable=True),
        sa.Column("duplicate_of", sa.Uuid(), nullable=True),
        sa.Column("correction", sa.Text(), nullable=True),
        sa.Column("correction_by", sa.String(255), nullable=True),
        sa.Column("correction_at", UTCDateTime(), nullable=True),
        sa.Column("escalated_at", UTCDateTime(), nullable=True),
        sa.Column("escalation_reason", sa.String(32), nullable=True),
        sa.Column("capa_link", sa.String(16), nullable=False),
        sa.Column("capa_id", sa.Uuid(), nullable=True),
        sa.Column("capa_number", sa.String(32), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("source", "external_ref", name="uq_nc_source_external_ref"),
    )
    op.create_index("ix_nc_created", "nonconformities", ["created_at", "id"])
    op.create_index("ix_nc_fingerprint", "nonconformities", ["fingerprint"])
    op.create_index("ix_nc_recurrence", "nonconformities", ["recurrence_key", "created_at"])
    op.create_table(
        "nonconformity_tags",
        sa.Column("nonconformity_id", sa.Uuid(), sa.ForeignKey("nonconformities.id"),
                  primary_key=True),
        sa.Column("tag", sa.String(100), primary_key=True),
    )
    op.create_index("ix_nonconformity_tags_tag", "nonconformity_tags", ["tag"])
    op.create_table(
        "nonconformity_occurrences",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("nonconformity_id", sa.Uuid(), sa.ForeignKey("nonconformities.id"),
                  nullable=False),
        sa.Column("fingerprint", sa.String(200), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("ended_at", UTCDateTime(), nullable=True),
        sa.UniqueConstraint("nonconformity_id", "started_at", name="uq_occurrence_start"),
    )
    op.create_index("ix_nonconformity_occurrences_nonconformity_id",
                    "nonconformity_occurrences", ["nonconformity_id"])
    op.create_index("ix_nonconformity_occurrences_fingerprint", "nonconformity_occurrences",
                    ["fingerprint"])
    op.create_table(
        "nonconformity_history",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("nonconformity_id", sa.Uuid(), sa.ForeignKey("nonconformities.id"),
                  nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_nonconformity_history_nonconformity_id", "nonconformity_history",
                    ["nonconformity_id"])
    op.create_table(
        "number_sequences",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
    )
    op.create_table(
        "received_webhooks",
        sa.Column("source", sa.String(100), primary_key=True),
        sa.Column("webhook_id", sa.String(255), primary_key=True),
        sa.Column("received_at", UTCDateTime(), nullable=False),
    )
    create_idempotency_table_v1()


def downgrade() -> None:
    for table in ("idempotency_keys", "received_webhooks", "number_sequences",
                  "nonconformity_history", "nonconformity_occurrences", "nonconformity_tags",
                  "nonconformities"):
        op.drop_table(table)
    op.create_table(
        "nonconformities",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
