"""A SCAR from the supplier's side, opened by its response link's token: read
it, keep a draft, attach evidence (and remove a draft file), submit.

Every use case starts with :func:`_open`: the token's hash finds the SCAR, and
an unknown, expired or revoked link is the same NotFound (one message), so a
caller learns nothing about which. The token opens exactly its own SCAR; no
id from the caller is used to pick a record.

Files, like texts, are the supplier's draft until submitted: a submission
records which files it held (``Scar.submitted_evidence``), engineers see only
those, and only a file no submission held can be removed.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.db import SessionFactory, transaction
from shared.errors import Conflict, Invalid, NotFound
from shared.events.suppliers import ScarResponded
from shared.evidence.attach import EvidenceFile, UploadedFile, attach, check_upload
from shared.evidence.store import EvidenceAttachment, EvidenceStore, attachments_of
from shared.outbox import record_event

from ..domain.scar import (
    AWAITING_SUPPLIER,
    PlannedAction,
    ResponseDraft,
    ScarMove,
    check_action_dates,
    check_revised,
    hostile_markup,
    link_opens,
    next_status,
    submission_errors,
    token_digest,
    well_formed,
)
from ..supplier_models import Scar
from ..supplier_schemas import (
    ScarFile,
    ScarForSupplier,
    ScarResponseContent,
    ScarResponseInput,
)
from .common import load_capa, record_change
from .scar_views import SCAR_RESPONSE, submitted_only, supplier_evidence_view
from .scars import named_scar_fields
from .suppliers import find_supplier

SERVICE = "capa"
# One answer for every link that opens nothing.
LINK_NOT_FOUND = "This link does not open a supplier corrective action request."
# At most this many files per response.
MAX_FILES = 20


def supplier_actor(scar: Scar) -> str:
    """Who the audit trail names for the supplier's steps: the contact, by role."""
    return f"supplier:{scar.supplier_code}"


async def _open(session: AsyncSession, token: str, now: datetime, *,
                for_update: bool = False) -> Scar:
    if not well_formed(token):
        raise NotFound(LINK_NOT_FOUND)
    query = select(Scar).where(col(Scar.token_digest) == token_digest(token))
    scar = (await session.exec(query)).first()
    if scar is None or not link_opens(scar.status, scar.link_expires_at, now):
        raise NotFound(LINK_NOT_FOUND)
    if for_update:
        # The CAPA first, as every writer of its trail; then the SCAR, judged again.
        await load_capa(session, scar.capa_id, for_update=True)
        await session.refresh(scar, with_for_update=True)
        if not link_opens(scar.status, scar.link_expires_at, now):
            raise NotFound(LINK_NOT_FOUND)
    return scar


async def link_is_live(sessions: SessionFactory, token: str, now: datetime) -> bool:
    """Whether ``token`` opens a SCAR now: a caller over its limit for dead links is
    still let in with a live one (a shared limit would let anyone lock every
    supplier out)."""
    async with sessions() as session:
        try:
            await _open(session, token, now)
        except NotFound:
            return False
    return True


def _require_editable(scar: Scar) -> None:
    if scar.status not in AWAITING_SUPPLIER:
        raise Conflict(f"{scar.number} is {scar.status}: the response can no longer be "
                       "changed.", status_now=str(scar.status))


async def _files(session: AsyncSession, scar: Scar) -> list[EvidenceAttachment]:
    return list(await attachments_of(session, parent_id=scar.id))


async def _for_supplier(session: AsyncSession, scar: Scar, files: list[EvidenceAttachment],
                        now: datetime) -> ScarForSupplier:
    supplier = await find_supplier(session, scar.supplier_code)
    return ScarForSupplier(
        number=scar.number, supplier_code=scar.supplier_code,
        supplier_name=supplier.name if supplier else scar.supplier_code, request=scar.request,
        due_date=scar.due_date, status=scar.status,
        overdue=scar.status in AWAITING_SUPPLIER and scar.due_date < now.date(),
        editable=scar.status in AWAITING_SUPPLIER,
        response=ScarResponseContent(**scar.response), draft_saved_at=scar.draft_saved_at,
        submissions=scar.submissions, responded_at=scar.responded_at,
        decision_reason=scar.decision_reason if scar.status != "sent" else None,
        evidence=[supplier_evidence_view(f, submitted=str(f.id) in scar.submitted_evidence)
                  for f in files],
        link_expires_at=scar.link_expires_at)


def _texts(request: ScarResponseInput) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = [
        (name, value) for name, value in (("containment", request.containment),
                                          ("problem_statement", request.problem_statement),
                                          ("root_cause", request.root_cause)) if value]
    for i, why in enumerate(request.whys):
        found += [(f"whys.{i}.why", why.why), (f"whys.{i}.because", why.because)]
    found += [(f"corrective_actions.{i}.description", a.description)
              for i, a in enumerate(request.corrective_actions)]
    return found


def _draft(content: dict[str, Any]) -> ResponseDraft:
    return ResponseDraft(
        containment=content.get("containment"),
        problem_statement=content.get("problem_statement"),
        whys=tuple((w["why"], w["because"]) for w in content.get("whys", [])),
        root_cause=content.get("root_cause"),
        corrective_actions=tuple(PlannedAction(a["description"],
                                               datetime.fromisoformat(a["due_date"]).date())
                                 for a in content.get("corrective_actions", [])))


async def read_response(sessions: SessionFactory, *, token: str,
                        now: datetime) -> ScarForSupplier:
    async with sessions() as session:
        scar = await _open(session, token, now)
        return await _for_supplier(session, scar, await _files(session, scar), now)


async def save_draft(sessions: SessionFactory, *, token: str, request: ScarResponseInput,
                     now: datetime) -> ScarForSupplier:
    hostile = [(field, "Links to scripts and HTML markup are not accepted; describe it in "
                       "words.") for field, text in _texts(request) if hostile_markup(text)]
    if hostile:
        raise Invalid("The response holds markup or a script link.", hostile)
    async with transaction(sessions) as session:
        scar = await _open(session, token, now, for_update=True)
        _require_editable(scar)
        draft = _draft(request.model_dump(mode="json"))
        check_action_dates(draft.corrective_actions, sent_on=scar.sent_at.date(),
                           today=now.date())
        scar.response = request.model_dump(mode="json")
        scar.draft_saved_at = now
        scar.version += 1
        scar.updated_at = now
        return await _for_supplier(session, scar, await _files(session, scar), now)


async def submit_response(sessions: SessionFactory, *, token: str,
                          now: datetime) -> ScarForSupplier:
    async with transaction(sessions) as session:
        scar = await _open(session, token, now, for_update=True)
        _require_editable(scar)
        errors = submission_errors(_draft(scar.response))
        if errors:
            raise Invalid("The response is not complete yet; it was kept as a draft.", errors)
        files = await _files(session, scar)
        check_revised(scar.status, response=scar.response, submitted=scar.submitted_response,
                      files=frozenset(str(f.id) for f in files),
                      submitted_files=frozenset(scar.submitted_evidence))
        scar.status = next_status(scar.status, ScarMove.submit)
        scar.submissions += 1
        scar.submitted_response = dict(scar.response)
        # Every file attached so far: the earlier submissions' (which cannot be
        # removed) and the draft's.
        scar.submitted_evidence = [str(f.id) for f in files]
        scar.responded_at = now
        scar.first_responded_at = scar.first_responded_at or now
        scar.version += 1
        scar.updated_at = now
        capa = await load_capa(session, scar.capa_id)
        await record_change(session, capa_id=scar.capa_id, actor=supplier_actor(scar),
                            action="scar_responded", at=now,
                            after={"scar_id": scar.id, "submission": scar.submissions,
                                   "response": scar.submitted_response,
                                   "evidence": [{"attachment_id": f.id,
                                                 "filename": f.filename,
                                                 "sha256": f.sha256} for f in files]})
        record_event(session, service=SERVICE, data=ScarResponded(
            **await named_scar_fields(session, capa, scar), submission=scar.submissions,
            corrective_actions=len(scar.response.get("corrective_actions", [])),
            evidence_files=len(files), responded_at=now, due_date=scar.due_date,
            on_time=now.date() <= scar.due_date))
        return await _for_supplier(session, scar, files, now)


async def attach_response_evidence(*, sessions: SessionFactory, store: EvidenceStore,
                                   token: str, upload: UploadedFile,
                                   now: datetime) -> ScarFile:
    filename, content_type = check_upload(upload)
    async with transaction(sessions) as session:
        scar = await _open(session, token, now, for_update=True)
        _require_editable(scar)
        if len(await _files(session, scar)) >= MAX_FILES:
            raise Conflict(f"A response holds at most {MAX_FILES} files.")
        row = await attach(session, store, upload=upload, filename=filename,
                           content_type=content_type, record_type=SCAR_RESPONSE,
                           record_id=scar.id, parent_id=scar.id, actor=supplier_actor(scar),
                           now=now)
        # A draft's file is the supplier's until submitted: the trail (which every
        # role reads) says only that one was attached, by its id; the submission's
        # entry names the files and their hashes. No event: scar.responded.v1
        # tells subscribers a response arrived with N files.
        await record_change(session, capa_id=scar.capa_id, actor=supplier_actor(scar),
                            action="scar_evidence_attached", at=now,
                            after={"scar_id": scar.id, "attachment_id": row.id})
        return supplier_evidence_view(row, submitted=False)


async def remove_response_evidence(*, sessions: SessionFactory, token: str,
                                   attachment_id: UUID, now: datetime) -> None:
    """Remove a file of the draft. Only the link row goes: the bytes stay in the
    content-addressed store, where another record may share them."""
    async with transaction(sessions) as session:
        scar = await _open(session, token, now, for_update=True)
        _require_editable(scar)
        row = await _file(session, scar, attachment_id)
        if str(row.id) in scar.submitted_evidence:
            raise Conflict(f"{row.filename} was part of a submitted response, so it stays "
                           "with it; attach a corrected file beside it instead.",
                           title="File already submitted")
        await session.delete(row)
        # As on attaching: that a draft file went, by its id; nothing of the file.
        await record_change(session, capa_id=scar.capa_id, actor=supplier_actor(scar),
                            action="scar_evidence_removed", at=now,
                            before={"scar_id": scar.id, "attachment_id": row.id},
                            after={"scar_id": scar.id})


async def _file(session: AsyncSession, scar: Scar, attachment_id: Any) -> EvidenceAttachment:
    """One file of this SCAR's response (a file of another record is unknown here)."""
    row = (await session.exec(select(EvidenceAttachment).where(
        col(EvidenceAttachment.id) == attachment_id,
        col(EvidenceAttachment.parent_id) == scar.id))).first()
    if row is None:
        raise NotFound(f"The response has no evidence file {attachment_id}.")
    return row


async def response_evidence_file(*, sessions: SessionFactory, store: EvidenceStore,
                                 token: str | None, scar_id: Any | None, attachment_id: Any,
                                 now: datetime) -> EvidenceFile:
    """A file of the response, by the supplier's token or (engineers) the SCAR's id:
    engineers get only a file a submission held (a draft's file is as unknown to
    them as a draft's text)."""
    async with sessions() as session:
        if token is not None:
            scar = await _open(session, token, now)
            row = await _file(session, scar, attachment_id)
        else:
            found = await session.get(Scar, scar_id)
            if found is None:
                raise NotFound(f"There is no SCAR with id {scar_id}.")
            row = await _file(session, found, attachment_id)
            if not submitted_only(found, [row]):
                raise NotFound(f"The response has no evidence file {attachment_id}.")
        content = await store.get(session, sha256=row.sha256)
    if content is None:
        raise NotFound(f"The content of evidence file {attachment_id} is missing.")
    return EvidenceFile(attachment=row, content=content)
