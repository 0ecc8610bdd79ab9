"""OpenID Connect sign-in: a session may hold a provider's tokens; sign-ins under way

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("display_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("refresh_token", sa.LargeBinary(), nullable=True))
        batch.add_column(sa.Column("token_expires_at", UTCDateTime(), nullable=True))
    op.create_table(
        "web_sign_ins",
        sa.Column("flow_hash", sa.String(64), primary_key=True),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("secrets", sa.LargeBinary(), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_web_sign_ins_created_at", "web_sign_ins", ["created_at"])


def downgrade() -> None:
    op.drop_table("web_sign_ins")
    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("token_expires_at")
        batch.drop_column("refresh_token")
        batch.drop_column("display_name")
