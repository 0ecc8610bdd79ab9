"""Bodies of the similar-lessons endpoints (suggestions and lessons linked to a CAPA)."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class SimilarItem(BaseModel):
    """A past lesson, or the submitted root cause of a CAPA that has no lesson yet."""

    kind: Literal["lesson", "root_cause"]
    # Higher is more similar; comparable within one answer only (it depends on the
    # database's ranking: PostgreSQL ts_rank, SQLite FTS5 bm25).
    score: float
    capa_id: UUID
    capa_number: str
    title: str
    capa_status: str
    problem: str | None
    root_cause: str | None
    cause_category: str | None
    # A lesson's own fields (None for a root cause).
    lesson_id: UUID | None = None
    what_to_do_differently: str | None = None
    tags: list[str] = []
    published_at: datetime | None = None
    # With capa_id: this lesson is already linked to that CAPA.
    linked: bool = False


class SimilarPage(BaseModel):
    items: list[SimilarItem]
    # The words searched for (stop words and repeats left out): an empty list says
    # the text held nothing to search with, so nothing was found.
    terms: list[str]


class LessonLinkInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lesson_id: UUID = Field(description="A lesson learned (GET /v1/lessons/similar)")


class LessonLinkPublic(BaseModel):
    lesson_id: UUID
    lesson_capa_id: UUID
    lesson_capa_number: str
    title: str
    what_to_do_differently: str
    linked_by: str
    linked_at: datetime
