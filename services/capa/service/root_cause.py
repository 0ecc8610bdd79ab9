"""The root-cause analysis form: saved as a draft or submitted, with If-Match."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlmodel import col, select

from shared.auth import Principal
from shared.db import SessionFactory, transaction
from shared.errors import Conflict, Invalid
from shared.events.capa import CapaRootCauseSubmitted
from shared.outbox import record_event
from shared.versions import check_if_match

from ..domain import CapaStatus
from ..domain.root_cause import AnalysisStatus, RootCauseForm, Why, submission_errors
from ..models import RootCauseAnalysis, RootCauseSubmission
from ..schemas import RootCauseInput, RootCausePublic, RootCauseSubmissionPublic
from .common import event_fields, load_capa, record_change, touch

SERVICE = "capa"
EDITABLE = (CapaStatus.open, CapaStatus.investigating)


def analysis_view(capa_id: UUID, analysis: RootCauseAnalysis | None) -> RootCausePublic:
    if analysis is None:  # nothing saved yet: an empty draft at version 0
        return RootCausePublic(capa_id=capa_id, status=AnalysisStatus.draft,
                               problem_statement=None, whys=[],
                               short_chain_justification=None, root_cause=None,
                               cause_category=None, contributing_factors=[], submissions=0,
                               updated_by=None, updated_at=None,
                               version=0)
    return RootCausePublic(capa_id=capa_id, status=analysis.status,
                           problem_statement=analysis.problem_statement, whys=analysis.whys,
                           short_chain_justification=analysis.short_chain_justification,
                           root_cause=analysis.root_cause,
                           cause_category=analysis.cause_category,
                           contributing_factors=analysis.contributing_factors,
                           submissions=analysis.submissions, updated_by=analysis.updated_by,
                           updated_at=analysis.updated_at, version=analysis.version)


def _content(analysis: RootCauseAnalysis) -> dict[str, Any]:
    return {"status": analysis.status, "problem_statement": analysis.problem_statement,
            "whys": analysis.whys,
            "short_chain_justification": analysis.short_chain_justification,
            "root_cause": analysis.root_cause, "cause_category": analysis.cause_category,
            "contributing_factors": analysis.contributing_factors}


async def record_root_cause(sessions: SessionFactory, *, capa_id: UUID, form: RootCauseInput,
                            if_match: str | None, principal: Principal,
                            now: datetime) -> RootCausePublic:
    # The form's own rules first (the OpenAPI states them): an incomplete
    # submission is a 422 whatever the If-Match, never hidden behind a 412.
    whys = [{"why": w.why, "because": w.because} for w in form.whys]
    if form.status is AnalysisStatus.submitted:
        errors = submission_errors(RootCauseForm(
            problem_statement=form.problem_statement,
            whys=tuple(Why(**w) for w in whys),
            short_chain_justification=form.short_chain_justification,
            root_cause=form.root_cause, cause_category=form.cause_category,
            contributing_factors=tuple(form.contributing_factors)))
        if errors:
            raise Invalid("The analysis is not complete enough to submit; save it as a "
                          "draft or complete it.", errors)
    async with transaction(sessions) as session:
        capa = await load_capa(session, capa_id, for_update=True)
        analysis = await session.get(RootCauseAnalysis, capa_id)
        check_if_match(if_match, analysis.version if analysis else 0)
        if capa.status not in EDITABLE:
            raise Conflict(f"The root cause of {capa.number} can be edited while it is open "
                           f"or investigating; it is {capa.status}.",
                           status_now=str(capa.status))
        before = _content(analysis) if analysis else None
        if analysis is None:
            analysis = RootCauseAnalysis(capa_id=capa_id, version=0, updated_by="",
                                         updated_at=now)
            session.add(analysis)
        analysis.status = form.status
        analysis.problem_statement = form.problem_statement
        analysis.whys = whys
        analysis.short_chain_justification = form.short_chain_justification
        analysis.root_cause = form.root_cause
        analysis.cause_category = form.cause_category
        analysis.contributing_factors = list(form.contributing_factors)
        analysis.version += 1
        analysis.updated_by, analysis.updated_at = principal.subject, now
        submitted = form.status is AnalysisStatus.submitted
        if submitted:
            assert form.problem_statement and form.root_cause and form.cause_category
            analysis.submissions += 1
            session.add(RootCauseSubmission(capa_id=capa_id, revision=analysis.submissions,
                                            content=_content(analysis),
                                            submitted_by=principal.subject, submitted_at=now))
            capa.cause_category = form.cause_category
            touch(capa, now)
            record_event(session, service=SERVICE, data=CapaRootCauseSubmitted(
                **event_fields(capa), revision=analysis.submissions,
                problem_statement=form.problem_statement, root_cause=form.root_cause,
                cause_category=form.cause_category, whys=len(whys),
                submitted_by=principal.subject, submitted_at=now))
        await record_change(session, capa_id=capa_id, actor=principal.subject,
                            action="root_cause_submitted" if submitted
                            else "root_cause_saved", at=now, before=before,
                            after=_content(analysis))
        return analysis_view(capa_id, analysis)


async def get_root_cause(sessions: SessionFactory, *, capa_id: UUID) -> RootCausePublic:
    async with sessions() as session:
        await load_capa(session, capa_id)
        return analysis_view(capa_id, await session.get(RootCauseAnalysis, capa_id))


async def root_cause_submissions(sessions: SessionFactory, *, capa_id: UUID
                                 ) -> list[RootCauseSubmissionPublic]:
    async with sessions() as session:
        await load_capa(session, capa_id)
        rows = (await session.exec(select(RootCauseSubmission)
                                   .where(col(RootCauseSubmission.capa_id) == capa_id)
                                   .order_by(col(RootCauseSubmission.revision)))).all()
        return [RootCauseSubmissionPublic(revision=r.revision, content=r.content,
                                          submitted_by=r.submitted_by,
                                          submitted_at=r.submitted_at) for r in rows]
