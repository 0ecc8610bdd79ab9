"""Where evidence lives: blobs addressed by their SHA-256 and one attachment row
per file attached to a record.

Both tables are in the owning service's database (nonconformity for NCs, capa
for actions and verifications), like the outbox: each service migrates them in
its own history. The blob is content-addressed, so the same file attached ten
times (to one record or to ten) is stored once; the attachment rows say who
attached it to what, when, under which name.

The bytes go through an :class:`EvidenceStore`. :class:`DatabaseEvidenceStore`,
the default, keeps them in the blob row, written in the use case's transaction.
``shared.evidence.s3.S3EvidenceStore`` keeps them in an S3-compatible object
store under their hash (written before the commit: an object nobody references
is harmless, and a second upload of it finds it there) and leaves ``content``
empty. ``shared.evidence.settings`` picks one from a service's settings.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID, uuid4

from sqlalchemy import Column, LargeBinary
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import UTCDateTime


class EvidenceBlob(SQLModel, table=True):
    __tablename__ = "evidence_blobs"

    sha256: str = Field(primary_key=True, min_length=64, max_length=64)
    size: int
    # The bytes, with the database store; None where another store keeps them.
    content: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    stored_at: datetime = Field(sa_type=UTCDateTime)


class EvidenceAttachment(SQLModel, table=True):
    """One file attached to one record (an NC, an action, a verification)."""

    __tablename__ = "evidence_attachments"

    id: UUID = Field(default_factory=uuid4, primary_key=True)
    # "nonconformity", "action" or "effectiveness_verification".
    record_type: str = Field(max_length=32)
    record_id: UUID = Field(index=True)
    # The NC, or the CAPA an action or verification belongs to: its page lists them all.
    parent_id: UUID = Field(index=True)
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    size: int
    attached_by: str = Field(max_length=255)
    attached_at: datetime = Field(sa_type=UTCDateTime)


class EvidenceStore(Protocol):
    """Keeps evidence bytes under their SHA-256; the caller's session is the use
    case's transaction (the database store writes in it, others may ignore it)."""

    async def put(self, session: AsyncSession, *, sha256: str, content: bytes,
                  now: datetime) -> None: ...

    async def get(self, session: AsyncSession, *, sha256: str) -> bytes | None: ...


class DatabaseEvidenceStore:
    """The bytes in the ``evidence_blobs`` row of the service's own database."""

    async def put(self, session: AsyncSession, *, sha256: str, content: bytes,
                  now: datetime) -> None:
        # Insert-or-nothing, not read-then-insert: two uploads of one file at the
        # same moment both succeed and the blob is still stored once.
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        await session.exec(insert(EvidenceBlob).values(
            sha256=sha256, size=len(content), content=content, stored_at=now,
        ).on_conflict_do_nothing(index_elements=["sha256"]))

    async def get(self, session: AsyncSession, *, sha256: str) -> bytes | None:
        content: bytes | None = (await session.exec(
            select(EvidenceBlob.content).where(col(EvidenceBlob.sha256) == sha256))).first()
        return content


async def attachments_of(session: AsyncSession, *, parent_id: UUID,
                         record_ids: list[UUID] | None = None) -> list[EvidenceAttachment]:
    """The attachments of one NC or CAPA (or of some of its records), oldest first."""
    query = select(EvidenceAttachment).where(col(EvidenceAttachment.parent_id) == parent_id)
    if record_ids is not None:
        query = query.where(col(EvidenceAttachment.record_id).in_(record_ids))
    return list((await session.exec(query.order_by(col(EvidenceAttachment.attached_at),
                                                   col(EvidenceAttachment.id)))).all())


@dataclass(frozen=True)
class EvidenceSetup:
    """A service's evidence: where the bytes go and the largest file it takes."""

    store: EvidenceStore
    max_bytes: int

