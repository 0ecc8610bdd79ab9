"""supplier register, supplier corrective action requests (SCAR), a CAPA's supplier,
NCs attributed to suppliers (for the scorecards)

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("code", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("supplies", sa.Text(), nullable=True),
        sa.Column("criticality", sa.String(16), nullable=False),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "scars",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("number", sa.String(32), nullable=False, unique=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False),
        sa.Column("supplier_code", sa.String(32), nullable=False),
        sa.Column("contact_name", sa.String(255), nullable=False),
        sa.Column("contact_email", sa.String(254), nullable=False),
        sa.Column("request", sa.Text(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("token_digest", sa.String(64), nullable=False, unique=True),
        sa.Column("link_expires_at", UTCDateTime(), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("submitted_response", sa.JSON(), nullable=True),
        sa.Column("draft_saved_at", UTCDateTime(), nullable=True),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("first_responded_at", UTCDateTime(), nullable=True),
        sa.Column("responded_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("overdue_notified_at", UTCDateTime(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.String(255), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_scars_capa_id", "scars", ["capa_id"])
    op.create_index("ix_scars_supplier_code", "scars", ["supplier_code"])
    op.create_table(
        "scar_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
    )
    op.create_table(
        "supplier_nonconformities",
        sa.Column("nonconformity_id", sa.Uuid(), primary_key=True),
        sa.Column("supplier_code", sa.String(32), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("reported_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_supplier_nonconformities_supplier_code", "supplier_nonconformities",
                    ["supplier_code"])
    with op.batch_alter_table("capas") as batch:
        batch.add_column(sa.Column("supplier_code", sa.String(32), nullable=True))
    op.create_index("ix_capas_supplier_code", "capas", ["supplier_code"])


def downgrade() -> None:
    op.drop_index("ix_capas_supplier_code", "capas")
    # A plain DROP COLUMN (SQLite has it since 3.35; Python 3.11 ships newer): a batch
    # rebuild of ``capas`` would reflect the table, which fails inside the async env.
    op.drop_column("capas", "supplier_code")
    op.drop_index("ix_supplier_nonconformities_supplier_code", "supplier_nonconformities")
    op.drop_table("supplier_nonconformities")
    op.drop_table("scar_counters")
    op.drop_index("ix_scars_supplier_code", "scars")
    op.drop_index("ix_scars_capa_id", "scars")
    op.drop_table("scars")
    op.drop_table("suppliers")
