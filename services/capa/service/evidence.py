"""Evidence files on a CAPA's actions and effectiveness verifications.

Engineers and managers attach to actions, verifiers and managers to
verifications (the roles that write those records), while the CAPA is open:
a closed or cancelled CAPA is the record as it was signed off. Every person
may list and download. The bytes are stored once by their hash
(shared.evidence); the audit trail and the ``evidence_attached`` event carry
the reference, never the bytes.
"""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction
from shared.errors import NotFound
from shared.events.capa import CapaEvidenceAttached
from shared.evidence.attach import (
    EvidenceFile,
    EvidencePublic,
    UploadedFile,
    attach,
    check_upload,
    evidence_view,
)
from shared.evidence.store import EvidenceAttachment, EvidenceStore, attachments_of
from shared.outbox import record_event

from ..models import ActionRow, EffectivenessVerification
from .common import event_fields, load_capa, record_change, require_open

SERVICE = "capa"


class EvidenceRecord(StrEnum):
    """The records of a CAPA that take evidence, as attachment rows name them."""

    action = "action"
    effectiveness_verification = "effectiveness_verification"


# Their collection in the API's paths.
_SEGMENT = {EvidenceRecord.action: "actions",
            EvidenceRecord.effectiveness_verification: "effectiveness-verifications"}
_TABLE: dict[EvidenceRecord, type[ActionRow] | type[EffectivenessVerification]] = {
    EvidenceRecord.action: ActionRow,
    EvidenceRecord.effectiveness_verification: EffectivenessVerification}
_NAME = {EvidenceRecord.action: "action",
         EvidenceRecord.effectiveness_verification: "effectiveness verification"}


def evidence_path(capa_id: UUID, record: str, record_id: UUID, attachment_id: UUID) -> str:
    return (f"/v1/capas/{capa_id}/{_SEGMENT[EvidenceRecord(record)]}/{record_id}"
            f"/evidence/{attachment_id}")


def view(row: EvidenceAttachment) -> EvidencePublic:
    return evidence_view(row, evidence_path(row.parent_id, row.record_type, row.record_id,
                                            row.id))


async def _require_record(session: AsyncSession, capa_id: UUID, record: EvidenceRecord,
                          record_id: UUID) -> None:
    row: ActionRow | EffectivenessVerification | None = await session.get(_TABLE[record],
                                                                          record_id)
    if row is None or row.capa_id != capa_id:
        raise NotFound(f"The CAPA has no {_NAME[record]} {record_id}.")


async def attach_evidence(*, sessions: SessionFactory, store: EvidenceStore, capa_id: UUID,
                          record: EvidenceRecord, record_id: UUID, upload: UploadedFile,
                          actor: str, now: datetime) -> EvidencePublic:
    filename, content_type = check_upload(upload)
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        await _require_record(session, capa_id, record, record_id)
        require_open(capa, "attaching evidence")
        row = await attach(session, store, upload=upload, filename=filename,
                           content_type=content_type, record_type=record, record_id=record_id,
                           parent_id=capa_id, actor=actor, now=now)
        reference = view(row)
        # The CAPA's version stays (no field of it changed); the trail records it.
        await record_change(session, capa_id=capa_id, actor=actor, action="evidence_attached",
                            at=now, after={"record_type": str(record),
                                           "record_id": record_id, "attachment_id": row.id,
                                           "filename": row.filename, "sha256": row.sha256,
                                           "content_type": row.content_type,
                                           "size": row.size})
        record_event(session, service=SERVICE, data=CapaEvidenceAttached(
            **event_fields(capa), attachment_id=row.id, record_type=str(record),
            record_id=record_id, sha256=row.sha256, filename=row.filename,
            content_type=row.content_type, size=row.size, download_path=reference.download,
            attached_by=actor, attached_at=now))
    return reference


async def list_evidence(*, sessions: SessionFactory, capa_id: UUID,
                        record: EvidenceRecord | None = None,
                        record_id: UUID | None = None) -> list[EvidencePublic]:
    """Every evidence file of the CAPA, or of one of its records."""
    async with sessions() as session:
        await load_capa(session, capa_id)
        if record is not None and record_id is not None:
            await _require_record(session, capa_id, record, record_id)
        rows = await attachments_of(session, parent_id=capa_id,
                                    record_ids=[record_id] if record_id else None)
    return [view(r) for r in rows]


async def evidence_by_record(session: AsyncSession, capa_id: UUID
                             ) -> dict[UUID, list[EvidencePublic]]:
    """The CAPA's evidence grouped by record, for the views of its actions and
    verifications (one query for all of them)."""
    grouped: dict[UUID, list[EvidencePublic]] = {}
    for row in await attachments_of(session, parent_id=capa_id):
        grouped.setdefault(row.record_id, []).append(view(row))
    return grouped


async def evidence_file(*, sessions: SessionFactory, store: EvidenceStore, capa_id: UUID,
                        record: EvidenceRecord, record_id: UUID,
                        attachment_id: UUID) -> EvidenceFile:
    async with sessions() as session:
        row = (await session.exec(select(EvidenceAttachment).where(
            col(EvidenceAttachment.id) == attachment_id,
            col(EvidenceAttachment.parent_id) == capa_id,
            col(EvidenceAttachment.record_type) == str(record),
            col(EvidenceAttachment.record_id) == record_id))).first()
        if row is None:
            await load_capa(session, capa_id)
            await _require_record(session, capa_id, record, record_id)
            raise NotFound(f"The {_NAME[record]} has no evidence file {attachment_id}.")
        content = await store.get(session, sha256=row.sha256)
    if content is None:
        raise NotFound(f"The content of evidence file {attachment_id} is missing from the "
                       "store.")
    return EvidenceFile(attachment=row, content=content)
