"""What the supplier detail page lists of one supplier: its NCs, CAPAs and SCARs."""

from datetime import date, datetime
from uuid import UUID

from pydantic import BaseModel, Field

from shared.vocabulary import CapaStatus, ScarStatus

from .supplier_schemas import SupplierPublic


class SupplierNcRef(BaseModel):
    id: UUID = Field(description="The NC's id in the nonconformity service")
    number: str
    severity: str
    reported_at: datetime


class SupplierCapaRef(BaseModel):
    id: UUID
    number: str
    title: str
    status: CapaStatus


class SupplierScarRef(BaseModel):
    id: UUID
    number: str
    capa_id: UUID
    status: ScarStatus
    due_date: date
    sent_at: datetime


class SupplierRecords(BaseModel):
    """A code's records, newest first; ``supplier`` is null when the register lacks
    the code (NCs may name a supplier nobody registered: they are still listed)."""

    code: str
    supplier: SupplierPublic | None
    nonconformities: list[SupplierNcRef]
    capas: list[SupplierCapaRef]
    scars: list[SupplierScarRef]
    limit: int = Field(description="At most this many of each kind are listed")
