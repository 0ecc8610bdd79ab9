"""similar past lessons: full-text indexes of lessons and submitted root causes,
lessons linked to CAPAs, suggestions offered

PostgreSQL: a generated ``search_vector`` (tsvector, 'english') on capa_lessons and
capa_root_causes with a GIN index; generated columns fill themselves for the rows
already there. SQLite (the embedded default): one FTS5 table, capa_similar_fts,
kept in step by triggers and filled here from the rows already there.

SQLite caution for later migrations: a batch_alter_table on capa_lessons or
capa_root_causes recreates the table and drops these triggers with it; such a
migration must create them again (``_sqlite_triggers``).

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

from shared.db import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen here (domain.similarity.LANGUAGE and FTS5_TOKENIZER say the same): the
# index and the queries must use one configuration.
_PG_LESSON = ("to_tsvector('english', title || ' ' || problem || ' ' || root_cause || ' ' "
              "|| what_to_do_differently) "
              "|| json_to_tsvector('english', actions, '[\"string\"]') "
              "|| json_to_tsvector('english', tags, '[\"string\"]')")
_PG_ROOT_CAUSE = ("to_tsvector('english', coalesce(problem_statement, '') || ' ' "
                  "|| coalesce(root_cause, '') || ' ' "
                  "|| coalesce(short_chain_justification, '')) "
                  "|| json_to_tsvector('english', whys, '[\"string\"]') "
                  "|| json_to_tsvector('english', contributing_factors, '[\"string\"]')")


def _strings(column: str) -> str:
    return (f"coalesce((SELECT group_concat(value, ' ') FROM json_each({column}) "
            "WHERE type = 'text'), '')")


def _sqlite_lesson(row: str) -> str:
    return (f"{row}.title || ' ' || {row}.problem || ' ' || {row}.root_cause || ' ' "
            f"|| {row}.what_to_do_differently || ' ' || {_strings(row + '.actions')} || ' ' "
            f"|| {_strings(row + '.tags')}")


def _sqlite_root_cause(row: str) -> str:
    whys = (f"coalesce((SELECT group_concat(coalesce(json_extract(value, '$.why'), '') "
            f"|| ' ' || coalesce(json_extract(value, '$.because'), ''), ' ') "
            f"FROM json_each({row}.whys)), '')")
    return (f"coalesce({row}.problem_statement, '') || ' ' || {whys} || ' ' "
            f"|| coalesce({row}.root_cause, '') || ' ' "
            f"|| coalesce({row}.short_chain_justification, '') || ' ' "
            f"|| {_strings(row + '.contributing_factors')}")


def _sqlite_triggers() -> list[str]:
    # Only a submitted analysis is a past root cause worth offering; a draft (or
    # one a reopen sent back to draft) leaves the index.
    lesson, cause = _sqlite_lesson("NEW"), _sqlite_root_cause("NEW")
    drop_lesson = "DELETE FROM capa_similar_fts WHERE kind = 'lesson' AND capa_id = OLD.capa_id;"
    drop_cause = ("DELETE FROM capa_similar_fts WHERE kind = 'root_cause' "
                  "AND capa_id = OLD.capa_id;")
    add_lesson = (f"INSERT INTO capa_similar_fts (kind, capa_id, body) "
                  f"VALUES ('lesson', NEW.capa_id, {lesson});")
    add_cause = (f"INSERT INTO capa_similar_fts (kind, capa_id, body) "
                 f"SELECT 'root_cause', NEW.capa_id, {cause} WHERE NEW.status = 'submitted';")
    return [
        f"CREATE TRIGGER capa_lessons_fts_ai AFTER INSERT ON capa_lessons BEGIN {add_lesson} END",
        f"CREATE TRIGGER capa_lessons_fts_au AFTER UPDATE ON capa_lessons BEGIN {drop_lesson} "
        f"{add_lesson} END",
        f"CREATE TRIGGER capa_lessons_fts_ad AFTER DELETE ON capa_lessons BEGIN {drop_lesson} END",
        f"CREATE TRIGGER capa_root_causes_fts_ai AFTER INSERT ON capa_root_causes BEGIN "
        f"{add_cause} END",
        f"CREATE TRIGGER capa_root_causes_fts_au AFTER UPDATE ON capa_root_causes BEGIN "
        f"{drop_cause} {add_cause} END",
        f"CREATE TRIGGER capa_root_causes_fts_ad AFTER DELETE ON capa_root_causes BEGIN "
        f"{drop_cause} END",
    ]


_SQLITE_TRIGGER_NAMES = ("capa_lessons_fts_ai", "capa_lessons_fts_au", "capa_lessons_fts_ad",
                         "capa_root_causes_fts_ai", "capa_root_causes_fts_au",
                         "capa_root_causes_fts_ad")


def upgrade() -> None:
    op.create_table(
        "capa_lesson_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False),
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("linked_by", sa.String(255), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("capa_id", "lesson_id", name="uq_capa_lesson_links"),
    )
    op.create_index("ix_capa_lesson_links_capa_id", "capa_lesson_links", ["capa_id"])
    op.create_table(
        "capa_lesson_suggestions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("capa_id", sa.Uuid(), nullable=False),
        sa.Column("lesson_id", sa.Uuid(), nullable=False),
        sa.Column("offered_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("capa_id", "lesson_id", name="uq_capa_lesson_suggestions"),
    )
    op.create_index("ix_capa_lesson_suggestions_offered_at", "capa_lesson_suggestions",
                    ["offered_at"])
    if op.get_bind().dialect.name == "postgresql":
        for table, expression in (("capa_lessons", _PG_LESSON),
                                  ("capa_root_causes", _PG_ROOT_CAUSE)):
            op.execute(f"ALTER TABLE {table} ADD COLUMN search_vector tsvector "
                       f"GENERATED ALWAYS AS ({expression}) STORED")
            op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING GIN (search_vector)")
        return
    op.execute("CREATE VIRTUAL TABLE capa_similar_fts USING fts5("
               "kind UNINDEXED, capa_id UNINDEXED, body, "
               "tokenize = 'porter unicode61 remove_diacritics 2')")
    for statement in _sqlite_triggers():
        op.execute(statement)
    # The rows written before this migration.
    op.execute(f"INSERT INTO capa_similar_fts (kind, capa_id, body) "
               f"SELECT 'lesson', l.capa_id, {_sqlite_lesson('l')} FROM capa_lessons l")
    op.execute(f"INSERT INTO capa_similar_fts (kind, capa_id, body) "
               f"SELECT 'root_cause', r.capa_id, {_sqlite_root_cause('r')} "
               f"FROM capa_root_causes r WHERE r.status = 'submitted'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("capa_lessons", "capa_root_causes"):
            op.execute(f"DROP INDEX ix_{table}_search")
            op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
    else:
        for name in _SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE capa_similar_fts")
    op.drop_index("ix_capa_lesson_suggestions_offered_at", "capa_lesson_suggestions")
    op.drop_table("capa_lesson_suggestions")
    op.drop_index("ix_capa_lesson_links_capa_id", "capa_lesson_links")
    op.drop_table("capa_lesson_links")
