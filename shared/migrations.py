"""Alembic plumbing shared by every migration history.

Each history (one per service, one for the SQL bus's event log) has an
``env.py`` that calls :func:`run_env`, and is applied with :func:`upgrade`
as its own step (``make migrate``), never on import or app start.
"""

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection

from shared.db import UTCDateTime, create_engine, is_sqlite


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    if is_sqlite(url):
        create_engine(url)  # creates the parent folder of the SQLite file
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, revision)


def run_env(target_metadata: MetaData) -> None:
    """Body of every env.py: online migrations over an async engine."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is set by shared.migrations.upgrade"

    def _migrate(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()

    async def _run() -> None:
        engine = create_engine(url)
        engine.pool = pool.NullPool(engine.pool._creator)
        async with engine.connect() as connection:
            await connection.run_sync(_migrate)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run())


# Frozen DDL of the outbox and inbox tables as of each service's first
# migration. Later changes to these tables get new migrations, not edits here.

def create_outbox_table_v1() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["sent_at", "id"])


def create_inbox_table_v1() -> None:
    op.create_table(
        "processed_events",
        sa.Column("consumer_group", sa.String(255), primary_key=True),
        sa.Column("event_id", sa.String(255), primary_key=True),
        sa.Column("event_type", sa.String(255), nullable=False),
        sa.Column("processed_at", UTCDateTime(), nullable=False),
    )


def create_idempotency_table_v1() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def add_outbox_dead_letter_columns_v2() -> None:
    """Outbox rows the bus refused for good (see shared.relay, shared.outbox_dlq).

    No new index: dead-lettered rows keep ``sent_at`` NULL, so the relay's
    query still walks ix_outbox_unsent (sent_at, id) and skips the few dead
    letters among the unsent rows it reads.
    """
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("dead_lettered_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("dead_letter_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("discarded_at", UTCDateTime(), nullable=True))


def drop_outbox_dead_letter_columns_v2() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("discarded_at")
        batch.drop_column("dead_letter_error")
        batch.drop_column("dead_lettered_at")
