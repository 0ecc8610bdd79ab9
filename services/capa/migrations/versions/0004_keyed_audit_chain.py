"""audit trail: keyed entries (scheme) and the CAPA's keyed audit head

Existing entries keep scheme NULL here; ``python -m services.capa.migrate``
keys every intact chain in the run that applies this revision, when
CAPA_AUDIT_KEY is set (``service.audit_keying``; the key is not Alembic's
business), and never on its own again.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("capa_audit_entries") as batch:
        batch.add_column(sa.Column("scheme", sa.String(16), nullable=True))
    with op.batch_alter_table("capas") as batch:
        batch.add_column(sa.Column("audit_head", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("capas") as batch:
        batch.drop_column("audit_head")
    with op.batch_alter_table("capa_audit_entries") as batch:
        batch.drop_column("scheme")
