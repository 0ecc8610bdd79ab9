"""Tables of the supplier register and the SCARs (in the CAPA service's database).

Beside models.py rather than in it, so the CAPA tables stay one screen and the
supplier part reads as one piece; models.py imports them into the metadata.
"""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import JSON, Column, String, Text
from sqlmodel import Field, SQLModel

from shared.db import UTCDateTime
from shared.vocabulary import ScarStatus

from .domain.supplier import SupplierCriticality


class Supplier(SQLModel, table=True):
    __tablename__ = "suppliers"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # Canonical (domain.supplier.canonical_code): the key NCs, CAPAs and SCARs use.
    code: str = Field(max_length=32, unique=True)
    name: str = Field(max_length=300)
    # Lower-cased name + code, so the register's search is one portable LIKE.
    search_text: str = Field(sa_column=Column(Text, nullable=False))
    supplies: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    criticality: SupplierCriticality = Field(sa_type=String(16))
    # [{"name": ..., "email": ...}]: whom a SCAR may be sent to.
    contacts: list[dict[str, str]] = Field(default_factory=list,
                                           sa_column=Column(JSON, nullable=False))
    version: int = 1
    created_by: str = Field(max_length=255)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class Scar(SQLModel, table=True):
    """A supplier corrective action request, sent from a CAPA.

    ``token_digest`` is the SHA-256 of the response link's token; the token
    itself is never stored (domain.scar)."""

    __tablename__ = "scars"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # SCAR-2026-0001, per year like CAPA numbers.
    number: str = Field(max_length=32, unique=True)
    capa_id: UUID = Field(index=True)
    supplier_code: str = Field(max_length=32, index=True)
    contact_name: str = Field(max_length=255)
    contact_email: str = Field(max_length=254)
    # What the engineer asks of the supplier (shown on the response form).
    request: str = Field(sa_column=Column(Text, nullable=False))
    due_date: date
    status: ScarStatus = Field(default=ScarStatus.sent, sa_type=String(16))
    token_digest: str = Field(max_length=64, unique=True)
    link_expires_at: datetime = Field(sa_type=UTCDateTime)
    # The supplier's answer as it stands: a draft until submitted.
    response: dict[str, Any] = Field(default_factory=dict,
                                     sa_column=Column(JSON, nullable=False))
    # What the engineer judges: a copy of ``response`` at the last submission.
    submitted_response: dict[str, Any] | None = Field(default=None,
                                                      sa_column=Column(JSON, nullable=True))
    # The evidence files (attachment ids) the last submission held: engineers see
    # these only; a file attached since is the supplier's draft, which they may still
    # remove. Submitted files stay, so each submission's list holds the one before.
    submitted_evidence: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]"))
    draft_saved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    submissions: int = 0
    first_responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    responded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=255)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    overdue_notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1
    sent_by: str = Field(max_length=255)
    sent_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class ScarCounter(SQLModel, table=True):
    __tablename__ = "scar_counters"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_sequence: int = 0


class SupplierNonconformity(SQLModel, table=True):
    """An NC attributed to a supplier, as the nonconformity service's events say
    (service.attribution): what the scorecards count. The CAPA service reads no
    other service's tables, so it keeps this much of each such NC."""

    __tablename__ = "supplier_nonconformities"

    nonconformity_id: UUID = Field(primary_key=True)
    supplier_code: str = Field(max_length=32, index=True)
    number: str = Field(max_length=32)
    severity: str = Field(max_length=16)
    reported_at: datetime = Field(sa_type=UTCDateTime)
