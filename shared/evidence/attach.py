"""Attaching an evidence file to a record, the part both services share:
the file is checked, named safely, stored once by its hash and referenced.

The owning service's use case finds and locks the record, checks its state,
calls :func:`attach` in its transaction and records its own event and history.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from .rules import clean_filename, evidence_type
from .store import EvidenceAttachment, EvidenceStore


@dataclass(frozen=True)
class UploadedFile:
    """A file as the client sent it (see shared.http.uploads), nothing checked yet."""

    filename: str
    declared_type: str | None
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


class EvidencePublic(BaseModel):
    """A reference to an evidence file: everything but its bytes, and where to get them."""

    id: UUID
    record_type: str = Field(description="nonconformity, action or effectiveness_verification")
    record_id: UUID
    sha256: str = Field(description="SHA-256 of the content, hex; the download's ETag")
    filename: str
    content_type: str
    size: int = Field(description="bytes")
    attached_by: str
    attached_at: datetime
    download: str = Field(description="path of the file's content on this service")


@dataclass(frozen=True)
class EvidenceFile:
    """A download: the attachment and its bytes."""

    attachment: EvidenceAttachment
    content: bytes


def evidence_view(row: EvidenceAttachment, download: str) -> EvidencePublic:
    return EvidencePublic(id=row.id, record_type=row.record_type, record_id=row.record_id,
                          sha256=row.sha256, filename=row.filename,
                          content_type=row.content_type, size=row.size,
                          attached_by=row.attached_by, attached_at=row.attached_at,
                          download=download)


def check_upload(upload: UploadedFile) -> tuple[str, str]:
    """(clean file name, content type to store) or the refusal (422 empty, 415 type).

    Done before the use case takes its row lock: a refused file holds nobody up."""
    filename = clean_filename(upload.filename)
    return filename, evidence_type(upload.content, declared=upload.declared_type,
                                   filename=filename)


async def attach(session: AsyncSession, store: EvidenceStore, *, upload: UploadedFile,
                 filename: str, content_type: str, record_type: str, record_id: UUID,
                 parent_id: UUID, actor: str, now: datetime) -> EvidenceAttachment:
    """Store the bytes (once per hash) and add the attachment row, in the caller's
    transaction; ``filename`` and ``content_type`` come from :func:`check_upload`."""
    sha256 = upload.sha256
    await store.put(session, sha256=sha256, content=upload.content, now=now)
    row = EvidenceAttachment(record_type=record_type, record_id=record_id, parent_id=parent_id,
                             sha256=sha256, filename=filename, content_type=content_type,
                             size=len(upload.content), attached_by=actor, attached_at=now)
    session.add(row)
    return row
