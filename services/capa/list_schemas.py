"""What the lists read back: pages of CAPAs, actions and lessons, and the audit
trail with its verification. schemas.py keeps one CAPA's requests and views;
the pages here wrap those views (a page's ``total`` counts the filtered list,
on every page)."""

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field

from .schemas import ActionPublic, CapaPublic


class CapaPage(BaseModel):
    items: list[CapaPublic]
    next_cursor: str | None
    total: int = Field(description="How many CAPAs match the filters, on every page")


class ActionQueueItem(ActionPublic):
    """An action in a list across CAPAs, with the CAPA it belongs to."""

    capa_number: str
    capa_title: str


class ActionPage(BaseModel):
    items: list[ActionQueueItem]
    next_cursor: str | None
    total: int = Field(description="How many actions match the filters, on every page")


class LessonPublic(BaseModel):
    id: UUID
    capa_id: UUID
    capa_number: str
    title: str
    problem: str
    root_cause: str
    cause_category: str
    actions: list[str]
    what_to_do_differently: str
    tags: list[str]
    published_at: datetime


class LessonPage(BaseModel):
    items: list[LessonPublic]
    next_cursor: str | None


class FieldChangePublic(BaseModel):
    """One field an audit entry changed; ``None`` on a side: the field was empty."""

    field: str
    old: Any
    new: Any


class AuditEntryPublic(BaseModel):
    sequence: int
    at: datetime
    actor: str
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None
    previous_hash: str
    hash: str
    # Derived from before/after when read (domain/audit_changes.py), not hashed.
    changes: list[FieldChangePublic] = []


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    next_cursor: str | None


class AuditVerification(BaseModel):
    valid: bool
    entries: int
    first_broken_sequence: int | None
    problem: str | None
    # Entries written before the trail was keyed: checked as plain SHA-256,
    # which detects accidents but not an edit re-hashed by someone.
    legacy_entries: int
    # The chain's length was checked against the CAPA's keyed head (truncation).
    head_checked: bool
