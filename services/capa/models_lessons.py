"""Tables of the lessons learned: the lesson a closed CAPA published, and the
links and suggestions between past lessons and a CAPA (the similar-lessons
panel). Kept beside models.py, which imports them, so Alembic's metadata holds
them too."""

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime


def _json_list() -> Any:
    return Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Lesson(SQLModel, table=True):
    __tablename__ = "capa_lessons"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    capa_id: UUID = Field(unique=True)
    capa_number: str = Field(max_length=32)
    title: str = Field(max_length=300)
    problem: str = Field(sa_column=Column(Text, nullable=False))
    root_cause: str = Field(sa_column=Column(Text, nullable=False))
    cause_category: str = Field(max_length=32)
    actions: list[str] = _json_list()
    what_to_do_differently: str = Field(sa_column=Column(Text, nullable=False))
    tags: list[str] = _json_list()
    # "|tag1|tag2|" and a lower-cased text, so both filters are portable LIKEs.
    tag_index: str = Field(sa_column=Column(Text, nullable=False))
    search_text: str = Field(sa_column=Column(Text, nullable=False))
    published_at: datetime = Field(sa_type=UTCDateTime)


class LessonLink(SQLModel, table=True):
    """A past lesson someone linked to a CAPA as relevant (one per pair)."""

    __tablename__ = "capa_lesson_links"
    __table_args__ = (UniqueConstraint("capa_id", "lesson_id", name="uq_capa_lesson_links"),)

    id: int | None = Field(default=None, primary_key=True)
    capa_id: UUID = Field(index=True)
    lesson_id: UUID
    linked_by: str = Field(max_length=255)
    linked_at: datetime = Field(sa_type=UTCDateTime)


class LessonSuggestion(SQLModel, table=True):
    """A lesson first offered to a CAPA as similar (one per pair): with the links,
    how often suggestions were taken up (the management review's figure)."""

    __tablename__ = "capa_lesson_suggestions"
    __table_args__ = (UniqueConstraint("capa_id", "lesson_id",
                                       name="uq_capa_lesson_suggestions"),)

    id: int | None = Field(default=None, primary_key=True)
    capa_id: UUID
    lesson_id: UUID
    offered_at: datetime = Field(sa_type=UTCDateTime, index=True)
