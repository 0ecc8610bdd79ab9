"""CAPA workflow: capa columns, counters, NC links, root cause, actions,
effectiveness checks, lessons, audit trail, idempotency keys

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
    with op.batch_alter_table("capas") as batch:
        batch.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False,
                                   server_default="corrective"))
        batch.add_column(sa.Column("source", sa.String(32), nullable=False,
                                   server_default="internal"))
        batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
        batch.add_column(sa.Column("likelihood", sa.Integer(), nullable=False,
                                   server_default="3"))
        batch.add_column(sa.Column("risk_score", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("due_date", sa.Date(), nullable=False,
                                   server_default="2000-01-01"))
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("reopen_count", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("created_by", sa.String(255), nullable=False,
                                   server_default="system"))
        batch.add_column(sa.Column("updated_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("closed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("cancelled_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("cause_category", sa.String(32), nullable=True))
        batch.add_column(sa.Column("effectiveness_criteria", sa.Text(), nullable=True))
        batch.add_column(sa.Column("effectiveness_check_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("overdue_notified_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE capas SET updated_at = opened_at WHERE updated_at IS NULL")
    op.create_index("ix_capas_status", "capas", ["status"])
    op.create_index("ix_capas_opened_at", "capas", ["opened_at", "id"])

    op.create_table(
        "capa_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
    )
    op.create_table(
        "capa_nonconformities",
        sa.Column("nonconformity_id", sa.Uuid(), primary_key=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("linked_via", sa.String(16), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "capa_root_causes",
        sa.Column("capa_id", sa.Uuid(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("problem_statement", sa.Text(), nullable=True),
        sa.Column("whys", sa.JSON(), nullable=False),
        sa.Column("short_chain_justification", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("cause_category", sa.String(32), nullable=True),
        sa.Column("contributing_factors", sa.JSON(), nullable=False),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "capa_root_cause_submissions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("submitted_by", sa.String(255), nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("capa_id", "revision"),
    )
    op.create_table(
        "capa_actions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("completion_evidence", sa.Text(), nullable=True),
        sa.Column("completed_by", sa.String(255), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("overdue_notified_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_capa_actions_due", "capa_actions", ["status", "due_date"])
    op.create_table(
        "capa_effectiveness_checks",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("cycle", sa.Integer(), nullable=False),
        sa.Column("result", sa.String(16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("verified_by", sa.String(255), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "capa_lessons",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False, unique=True),
        sa.Column("capa_number", sa.String(32), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=False),
        sa.Column("cause_category", sa.String(32), nullable=False),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("what_to_do_differently", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("tag_index", sa.Text(), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_capa_lessons_published", "capa_lessons", ["published_at", "id"])
    op.create_table(
        "capa_audit_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("capa_id", "sequence"),
    )
    create_idempotency_table_v1()


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    for table in ("capa_audit_entries", "capa_lessons", "capa_effectiveness_checks",
                  "capa_actions", "capa_root_cause_submissions", "capa_root_causes",
                  "capa_nonconformities", "capa_counters"):
        op.drop_table(table)
    op.drop_index("ix_capas_opened_at", "capas")
    op.drop_index("ix_capas_status", "capas")
    # Plain DROP COLUMN (SQLite >= 3.35 and PostgreSQL); none of these is indexed.
    for column in ("overdue_notified_at", "effectiveness_check_date", "effectiveness_criteria",
                   "cause_category", "cancel_reason", "cancelled_at", "closed_at", "updated_at",
                   "created_by", "reopen_count", "version", "due_date", "risk_score",
                   "likelihood", "owner", "source", "kind", "description"):
        op.drop_column("capas", column)
