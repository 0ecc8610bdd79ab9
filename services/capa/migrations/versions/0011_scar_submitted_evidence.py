"""a SCAR's submitted evidence: the files the last submission held (a supplier's
files attached since are their draft, hidden from engineers, and removable)

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("scars", sa.Column("submitted_evidence", sa.JSON(), nullable=False,
                                     server_default=sa.text("'[]'")))
    # SCARs answered before: the files attached up to their last submission were
    # submitted with it (engineers saw them, and keep seeing them).
    scars = sa.table("scars", sa.column("id", sa.Uuid()), sa.column("responded_at", UTCDateTime()),
                     sa.column("submitted_evidence", sa.JSON()))
    files = sa.table("evidence_attachments", sa.column("id", sa.Uuid()),
                     sa.column("parent_id", sa.Uuid()), sa.column("attached_at", UTCDateTime()))
    bind = op.get_bind()
    answered = bind.execute(sa.select(scars.c.id, scars.c.responded_at)
                            .where(scars.c.responded_at.is_not(None))).all()
    for scar_id, responded_at in answered:
        ids = bind.execute(sa.select(files.c.id).where(
            files.c.parent_id == scar_id, files.c.attached_at <= responded_at)
            .order_by(files.c.attached_at)).scalars().all()
        if ids:
            bind.execute(sa.update(scars).where(scars.c.id == scar_id)
                         .values(submitted_evidence=[str(i) for i in ids]))


def downgrade() -> None:
    # A plain DROP COLUMN, as 0010 does (a batch rebuild fails inside the async env).
    op.drop_column("scars", "submitted_evidence")
