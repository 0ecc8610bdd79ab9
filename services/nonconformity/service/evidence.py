"""Evidence files on an NC: attach (engineers and managers, while the NC is
open), list and download (every person who can read the NC).

The bytes are stored once by their hash (shared.evidence); the NC's history
and its ``evidence_attached`` event carry the reference, never the bytes.
"""

from datetime import datetime
from uuid import UUID

from sqlmodel import col, select

from shared.db import SessionFactory, transaction
from shared.errors import NotFound
from shared.events.nonconformity import NonconformityEvidenceAttached
from shared.evidence.attach import (
    EvidenceFile,
    EvidencePublic,
    UploadedFile,
    attach,
    check_upload,
    evidence_view,
)
from shared.evidence.store import EvidenceAttachment, EvidenceStore, attachments_of

from ..domain import NonconformityNotFound, NonconformityStatus, check_editable
from ..models import Nonconformity
from .queries import evidence_path
from .records import add_history, emit

RECORD_TYPE = "nonconformity"


def view(row: EvidenceAttachment) -> EvidencePublic:
    return evidence_view(row, evidence_path(row.parent_id, row.id))


async def attach_evidence(*, sessions: SessionFactory, store: EvidenceStore, nc_id: UUID,
                          upload: UploadedFile, actor: str, now: datetime) -> EvidencePublic:
    filename, content_type = check_upload(upload)
    async with transaction(sessions) as session:
        nc = await session.get(Nonconformity, nc_id, with_for_update=True)
        if nc is None:
            raise NonconformityNotFound(nc_id)
        # A closed or rejected NC is part of the record: reopen it to add to it.
        check_editable(NonconformityStatus(nc.status))
        row = await attach(session, store, upload=upload, filename=filename,
                           content_type=content_type, record_type=RECORD_TYPE,
                           record_id=nc.id, parent_id=nc.id, actor=actor, now=now)
        reference = view(row)
        # The NC's version (its ETag) stays: an attachment edits none of its fields,
        # so it must not make someone's open triage form stale.
        add_history(session, nc, actor=actor, action="evidence_attached",
                    changes={"attachment_id": str(row.id), "filename": row.filename,
                             "sha256": row.sha256, "content_type": row.content_type,
                             "size": row.size})
        emit(session, nc, NonconformityEvidenceAttached, attachment_id=row.id,
             record_type=RECORD_TYPE, record_id=nc.id, sha256=row.sha256,
             filename=row.filename, content_type=row.content_type, size=row.size,
             download_path=reference.download, attached_by=actor, attached_at=now)
    return reference


async def list_evidence(*, sessions: SessionFactory, nc_id: UUID) -> list[EvidencePublic]:
    async with sessions() as session:
        if await session.get(Nonconformity, nc_id) is None:
            raise NonconformityNotFound(nc_id)
        return [view(r) for r in await attachments_of(session, parent_id=nc_id)]


async def evidence_file(*, sessions: SessionFactory, store: EvidenceStore, nc_id: UUID,
                        attachment_id: UUID) -> EvidenceFile:
    async with sessions() as session:
        row = (await session.exec(select(EvidenceAttachment).where(
            col(EvidenceAttachment.id) == attachment_id,
            col(EvidenceAttachment.parent_id) == nc_id,
            col(EvidenceAttachment.record_type) == RECORD_TYPE))).first()
        if row is None:
            if await session.get(Nonconformity, nc_id) is None:
                raise NonconformityNotFound(nc_id)
            raise NotFound(f"The nonconformity has no evidence file {attachment_id}.")
        content = await store.get(session, sha256=row.sha256)
    if content is None:
        raise NotFound(f"The content of evidence file {attachment_id} is missing from the "
                       "store.")
    return EvidenceFile(attachment=row, content=content)
