"""Electronic signatures on the signed moves (domain.signatures, docs/signatures.md).

The use cases of the three signed moves call :func:`admit` once their own rules
passed (role, independence, state), then :func:`sign` inside the same
transaction, after the record they sign is written: the signature, its audit
entry and the move commit together or not at all.

What is signed is rebuilt by :func:`signed_content` from the record's own rows,
at signing and again when verifying, so verifying compares the stored content
and hash with what the database says now.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.db import SessionFactory
from shared.errors import Invalid
from shared.events.capa import SignatureReference

from ..domain.signatures import (
    DEFAULT_MAX_AGE,
    SCHEME,
    Manifest,
    Meaning,
    SignedMove,
    canonical_json,
    check_meaning,
    check_signer,
    missing_signature,
    signature_hash,
    timestamp,
)
from ..models import Capa, EffectivenessVerification, RootCauseSubmission, SignatureRow
from ..models_lessons import Lesson
from ..signature_schemas import (
    BrokenSignature,
    SignatureInput,
    SignaturePublic,
    SignatureVerification,
)
from .common import load_capa, record_change


@dataclass(frozen=True)
class SigningPolicy:
    """The deployment's settings (CAPA_SIGNATURES_REQUIRED, CAPA_SIGNATURE_MAX_AGE_MINUTES)."""

    required: bool = False
    max_age: timedelta = field(default=DEFAULT_MAX_AGE)


@dataclass(frozen=True)
class Admitted:
    """A signature the request may make: its meaning and when the signer authenticated."""

    meaning: Meaning
    authenticated_at: datetime


def admit(policy: SigningPolicy, move: SignedMove | None, signature: SignatureInput | None,
          principal: Principal, now: datetime, *, moving: str = "this move") -> Admitted | None:
    """The signature this request makes (None: unsigned), or the refusal: a signature
    on a move that takes none, a missing one where required, a wrong meaning, a
    tool's key, a sign-in that is not fresh."""
    if move is None:
        if signature is not None:
            raise Invalid(f"{moving} is not signed; leave the signature out.",
                          [("signature", "not used on this move")])
        return None
    if signature is None:
        if policy.required:
            raise missing_signature(move)
        return None
    check_meaning(move, signature.meaning)
    authenticated_at = check_signer(method=principal.method, auth_time=principal.auth_time,
                                    now=now, max_age=policy.max_age)
    return Admitted(meaning=signature.meaning, authenticated_at=authenticated_at)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


async def signed_content(session: AsyncSession, move: SignedMove, capa: Capa,
                         record_id: str) -> dict[str, Any] | None:
    """What a signature of ``move`` on ``record_id`` covers, from the rows as they
    are now (None: the record is gone). Only rows that no longer change once
    signed are read: a submitted revision, a verification, a closed CAPA's lesson."""
    head = {"number": capa.number}
    if move is SignedMove.root_cause_approval:
        submission = (await session.exec(select(RootCauseSubmission).where(
            col(RootCauseSubmission.capa_id) == capa.id,
            col(RootCauseSubmission.revision) == int(record_id)))).first()
        if submission is None:
            return None
        return {"capa": head, "root_cause_analysis": {"revision": submission.revision,
                                                      **_plain(submission.content)}}
    if move is SignedMove.effectiveness_verification:
        check = await session.get(EffectivenessVerification, UUID(record_id))
        if check is None or check.capa_id != capa.id:
            return None
        return {"capa": head, "effectiveness_verification": {
            "result": str(check.result), "evidence": check.evidence, "cycle": check.cycle,
            "check_date": _day(check.check_date), "verified_by": check.verified_by,
            "override_by": check.override_by, "override_reason": check.override_reason}}
    lesson = (await session.exec(select(Lesson).where(col(Lesson.capa_id) == capa.id))).first()
    check = (await session.exec(
        select(EffectivenessVerification)
        .where(col(EffectivenessVerification.capa_id) == capa.id,
               col(EffectivenessVerification.cycle) == capa.reopen_count)
        .order_by(col(EffectivenessVerification.verified_at).desc()).limit(1))).first()
    if lesson is None or check is None or record_id != str(capa.id):
        return None
    return {"capa": head | {"title": capa.title, "severity": str(capa.severity),
                            "reopen_count": capa.reopen_count},
            "effectiveness_verification": {"result": str(check.result),
                                           "evidence": check.evidence,
                                           "verified_by": check.verified_by},
            "root_cause": lesson.root_cause, "cause_category": lesson.cause_category,
            "actions": list(lesson.actions),
            "lesson": {"what_to_do_differently": lesson.what_to_do_differently,
                       "tags": list(lesson.tags)}}


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """StrEnum values as plain strings (as JSON storage hands them back)."""
    result: dict[str, Any] = json.loads(json.dumps(dict(value)))
    return result


async def sign(session: AsyncSession, *, move: SignedMove, admitted: Admitted, capa: Capa,
               record_id: str, principal: Principal, now: datetime) -> SignatureRow:
    """Writes the signature and its audit entry (the caller holds the CAPA's lock)."""
    content = await signed_content(session, move, capa, record_id)
    assert content is not None, "the signed record is written before it is signed"
    manifest = Manifest(move=move, meaning=admitted.meaning, signer=principal.subject,
                        signer_name=principal.name or principal.subject, signed_at=now,
                        capa_id=str(capa.id), record_id=record_id, content=content)
    # The caller holds the CAPA's row lock (as for the audit trail): no race.
    signed_before = (await session.exec(
        select(func.count()).select_from(SignatureRow)
        .where(col(SignatureRow.capa_id) == capa.id))).one()
    row = SignatureRow(capa_id=capa.id, sequence=signed_before + 1, move=move,
                       record_id=record_id,
                       meaning=admitted.meaning, signer=manifest.signer,
                       signer_name=manifest.signer_name,
                       signed_at=now.replace(microsecond=0),
                       authenticated_at=admitted.authenticated_at, content=content,
                       scheme=SCHEME, hash=signature_hash(manifest))
    session.add(row)
    await record_change(session, capa_id=capa.id, actor=principal.subject, action="signed",
                        at=now, after={"signature_id": str(row.id), "move": str(move),
                                       "record_id": record_id, "meaning": str(row.meaning),
                                       "signer": row.signer, "signer_name": row.signer_name,
                                       "signed_at": timestamp(now),
                                       "authenticated_at": timestamp(row.authenticated_at),
                                       "hash": row.hash})
    return row


def reference(row: SignatureRow | None) -> SignatureReference | None:
    """What the move's event carries."""
    if row is None:
        return None
    return SignatureReference(signature_id=row.id, signer=row.signer,
                              signer_name=row.signer_name, meaning=row.meaning,
                              signed_at=row.signed_at, hash=row.hash)


def manifestation(row: SignatureRow) -> str:
    return (f"Signed by {row.signer_name} ({row.signer}) on {timestamp(row.signed_at)}; "
            f"meaning: {row.meaning}")


def signature_view(row: SignatureRow) -> SignaturePublic:
    return SignaturePublic(id=row.id, capa_id=row.capa_id, move=SignedMove(row.move),
                           record_id=row.record_id, meaning=Meaning(row.meaning),
                           signer=row.signer, signer_name=row.signer_name,
                           signed_at=row.signed_at, authenticated_at=row.authenticated_at,
                           content=row.content, scheme=row.scheme, hash=row.hash,
                           manifestation=manifestation(row))


async def signature_rows(session: AsyncSession, capa_id: UUID) -> list[SignatureRow]:
    return list((await session.exec(
        select(SignatureRow).where(col(SignatureRow.capa_id) == capa_id)
        .order_by(col(SignatureRow.sequence)))).all())


async def signatures_of(session: AsyncSession, capa_id: UUID) -> list[SignaturePublic]:
    return [signature_view(r) for r in await signature_rows(session, capa_id)]


async def list_signatures(sessions: SessionFactory, *, capa_id: UUID) -> list[SignaturePublic]:
    async with sessions() as session:
        await load_capa(session, capa_id)
        return await signatures_of(session, capa_id)


def _problem(row: SignatureRow, now_content: dict[str, Any] | None) -> str | None:
    if row.scheme != SCHEME:
        return f"it was made under the unknown scheme {row.scheme!r}"
    try:
        manifest = Manifest(move=SignedMove(row.move), meaning=Meaning(row.meaning),
                            signer=row.signer, signer_name=row.signer_name,
                            signed_at=row.signed_at, capa_id=str(row.capa_id),
                            record_id=row.record_id, content=row.content)
        stored_hash = signature_hash(manifest)
    except (ValueError, TypeError) as exc:
        return f"the stored signature cannot be read ({exc})"
    if stored_hash != row.hash:
        return ("the stored signature no longer matches its hash: its content, meaning, "
                "signer or time was altered")
    if now_content is None:
        return "the signed record is gone"
    if canonical_json(now_content) != canonical_json(row.content):
        changed = sorted(k for k in set(now_content) | set(row.content)
                         if now_content.get(k) != row.content.get(k))
        return (f"the signed record was changed after signing ({', '.join(changed)} "
                "differ from what was signed)")
    return None


async def verify_signatures(sessions: SessionFactory, *, capa_id: UUID
                            ) -> SignatureVerification:
    """Recompute every signature of the CAPA; name the ones that no longer match."""
    broken: list[BrokenSignature] = []
    async with sessions() as session:
        capa = await load_capa(session, capa_id)
        rows = await signature_rows(session, capa_id)
        for row in rows:
            try:
                now_content = await signed_content(session, SignedMove(row.move), capa,
                                                   row.record_id)
            except ValueError:  # an unknown move or a record id that is no id
                now_content = None
            problem = _problem(row, now_content)
            if problem:
                broken.append(BrokenSignature(id=row.id, move=row.move, signer=row.signer,
                                              meaning=row.meaning, signed_at=row.signed_at,
                                              problem=problem))
    return SignatureVerification(valid=not broken, signatures=len(rows), broken=broken)
