"""Supplier events the CAPA service publishes on ``capa.events``: the register
and supplier corrective action requests (SCAR).

References only. A SCAR's response link (its token) is never in an event: the
CAPA service e-mails it itself (docs/DESIGN.md, "Suppliers and SCARs"), so
nothing on the bus, in a feed or in a webhook can open the supplier's form.
The supplier's own texts (containment, root cause) stay in the CAPA service
too; subscribers read them through the API with a key.
"""

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from shared.events.base import CAPA_TOPIC, EventData
from shared.events.capa import CapaEvent


class SupplierEvent(EventData):
    topic: ClassVar[str] = CAPA_TOPIC
    subject_field: ClassVar[str] = "supplier_id"

    supplier_id: UUID
    code: str
    name: str
    # critical | high | medium | low
    criticality: str


class SupplierRegistered(SupplierEvent):
    event_type: ClassVar[str] = "capaflow.supplier.registered.v1"

    registered_by: str
    registered_at: datetime


class SupplierUpdated(SupplierEvent):
    event_type: ClassVar[str] = "capaflow.supplier.updated.v1"

    # The names of the fields that changed (contacts included, their values not).
    changed: list[str] = []
    updated_by: str
    updated_at: datetime


class ScarEvent(CapaEvent):
    """Every SCAR event: keyed by its CAPA, so it stays in order with the CAPA's."""

    scar_id: UUID
    scar_number: str
    supplier_code: str
    # The CAPA's title and the supplier's name when the event was recorded, so a
    # message reads "SCAR-2026-0003 sent to Acme Seals for CAPA-2026-00001 <title>".
    # Optional (older events lack them), which keeps the version (DESIGN §2).
    title: str | None = None
    supplier_name: str | None = None


class ScarSent(ScarEvent):
    event_type: ClassVar[str] = "capaflow.scar.sent.v1"

    due_date: date
    sent_by: str
    sent_at: datetime
    # The link was e-mailed again (a new token; the earlier link stopped working).
    resent: bool = False


class ScarResponded(ScarEvent):
    """The supplier submitted a response (``submission`` counts them: 2 after a rejection)."""

    event_type: ClassVar[str] = "capaflow.scar.responded.v1"

    submission: int
    corrective_actions: int
    evidence_files: int
    responded_at: datetime
    due_date: date
    on_time: bool


class ScarAccepted(ScarEvent):
    event_type: ClassVar[str] = "capaflow.scar.accepted.v1"

    decided_by: str
    decided_at: datetime
    reason: str | None = None


class ScarRejected(ScarEvent):
    event_type: ClassVar[str] = "capaflow.scar.rejected.v1"

    decided_by: str
    decided_at: datetime
    reason: str
    due_date: date


class ScarRevoked(ScarEvent):
    event_type: ClassVar[str] = "capaflow.scar.revoked.v1"

    revoked_by: str
    revoked_at: datetime
    reason: str


class ScarDueSoon(ScarEvent):
    """A reminder, once per SCAR and due date, while the supplier has still to answer."""

    event_type: ClassVar[str] = "capaflow.scar.due_soon.v1"

    status: str
    due_date: date
    days_left: int
    reminded_at: datetime


class ScarOverdue(ScarEvent):
    """Once per SCAR and due date, when it passes with no response (or a rejected one)."""

    event_type: ClassVar[str] = "capaflow.scar.overdue.v1"

    status: str
    due_date: date
    detected_at: datetime


EVENTS: tuple[type[EventData], ...] = (
    SupplierRegistered,
    SupplierUpdated,
    ScarSent,
    ScarResponded,
    ScarAccepted,
    ScarRejected,
    ScarRevoked,
    ScarDueSoon,
    ScarOverdue,
)
