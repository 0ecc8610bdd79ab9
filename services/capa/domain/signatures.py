"""Electronic signatures with meaning (21 CFR Part 11 §11.50, §11.70, §11.200).

Pure rules: which moves are signed and with which meanings, the signer's
eligibility (a person, freshly authenticated), and the hash that binds a
signature to exactly what was signed.

The hash is SHA-256 over a canonical JSON document (keys sorted, no
whitespace, UTF-8, no floats) of the record's content at the moment of
signing, the record it belongs to, the meaning, the signer and the time. The
record reference is inside the hash, so a signature copied onto another record
with the same content no longer matches (§11.70: not excised, copied or
transferred). Verifying later rebuilds the document from the stored rows and
compares: any edit of the record or of the signature shows.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.errors import Invalid, NotPermitted, UseCaseError
from shared.vocabulary import CapaStatus

# Bumped if the document's shape ever changes; stored with each signature so
# old signatures keep verifying under the scheme they were made with.
SCHEME = "sha256/canonical-json/v1"


class Meaning(StrEnum):
    """What the signer means by signing (§11.50(a)(3))."""

    authorship = "authorship"
    review = "review"
    approval = "approval"
    responsibility = "responsibility"


class SignedMove(StrEnum):
    """The moves that can carry a signature."""

    # investigating -> action_planned: the submitted analysis is accepted.
    root_cause_approval = "root_cause_approval"
    effectiveness_verification = "effectiveness_verification"
    # verifying -> closed.
    closure = "closure"


# Which meanings each move accepts. Approving an analysis is a review or an
# approval, not its authorship (the author submitted it); a verification is the
# verifier's own finding, which they author, review or answer for; closing is
# management's approval or acceptance of responsibility.
MEANINGS: Mapping[SignedMove, tuple[Meaning, ...]] = {
    SignedMove.root_cause_approval: (Meaning.approval, Meaning.review),
    SignedMove.effectiveness_verification: (Meaning.authorship, Meaning.review,
                                            Meaning.responsibility),
    SignedMove.closure: (Meaning.approval, Meaning.responsibility),
}

WHAT = {
    SignedMove.root_cause_approval: "Approving the root-cause analysis",
    SignedMove.effectiveness_verification: "Recording an effectiveness verification",
    SignedMove.closure: "Closing a CAPA",
}

DEFAULT_MAX_AGE = timedelta(minutes=5)


def signed_move_of(current: CapaStatus, to: CapaStatus) -> SignedMove | None:
    """The workflow moves that are signed: accepting the analysis by planning
    actions on it, and closing."""
    if current is CapaStatus.investigating and to is CapaStatus.action_planned:
        return SignedMove.root_cause_approval
    if current is CapaStatus.verifying and to is CapaStatus.closed:
        return SignedMove.closure
    return None


class ReauthenticationRequired(UseCaseError):
    """The person's sign-in is too old to sign (§11.200): 401 with a step-up
    challenge (RFC 9470) so a client knows to send them through the provider again."""

    status, kind_title = 401, "Re-authentication required"


def either(meanings: tuple[Meaning, ...]) -> str:
    """``authorship, review or responsibility``"""
    *first, last = meanings
    return f"{', '.join(first)} or {last}" if first else str(last)


def check_meaning(move: SignedMove, meaning: Meaning) -> None:
    accepted = MEANINGS[move]
    if meaning not in accepted:
        raise Invalid(f"{WHAT[move]} is signed with the meaning "
                      f"{either(accepted)}, not {meaning}.",
                      [("signature.meaning", f"one of: {', '.join(accepted)}")])


def missing_signature(move: SignedMove) -> Invalid:
    """The refusal when signatures are required and none was sent."""
    accepted = either(MEANINGS[move])
    return Invalid(f"{WHAT[move]} needs an electronic signature in this deployment "
                   f"(CAPA_SIGNATURES_REQUIRED): send \"signature\": {{\"meaning\": ...}} "
                   f"with the meaning {accepted}, signed in through the identity provider.",
                   [("signature", f"required; meaning {accepted}")])


def check_signer(*, method: str, auth_time: int | None, now: datetime,
                 max_age: timedelta) -> datetime:
    """Raise unless the caller is a person who authenticated at most ``max_age``
    ago (§11.200(a)); return when they did."""
    if method != "oidc":
        raise NotPermitted("An API key cannot sign: electronic signatures are made by a "
                           "person signed in through the identity provider. Sign in there "
                           "(re-authenticate to sign).")
    if auth_time is None:
        raise ReauthenticationRequired(
            "Your token does not say when you authenticated (no auth_time): "
            "re-authenticate to sign.", headers=_challenge(max_age))
    authenticated = datetime.fromtimestamp(auth_time, UTC)
    age = now - authenticated
    if age > max_age:
        minutes = int(age.total_seconds() // 60)
        raise ReauthenticationRequired(
            f"You authenticated {minutes} minute(s) ago; signing needs an authentication "
            f"at most {_minutes(max_age)} old: re-authenticate to sign.",
            headers=_challenge(max_age))
    return authenticated


def _minutes(age: timedelta) -> str:
    seconds = int(age.total_seconds())
    return f"{seconds // 60} minute(s)" if seconds % 60 == 0 else f"{seconds} second(s)"


def _challenge(max_age: timedelta) -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer error="insufficient_user_authentication", '
            'error_description="re-authenticate to sign", '
            f'max_age="{int(max_age.total_seconds())}"'}


def timestamp(moment: datetime) -> str:
    """UTC, ISO 8601, whole seconds: ``2026-12-07T09:48:12Z`` (stable across databases)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Manifest:
    """Everything a signature stands for: the §11.50 manifestation plus the record."""

    move: SignedMove
    meaning: Meaning
    signer: str  # the canonical subject
    signer_name: str  # the printed name
    signed_at: datetime
    capa_id: str
    record_id: str
    content: Mapping[str, Any]

    def document(self) -> dict[str, Any]:
        return {"scheme": SCHEME, "move": str(self.move), "meaning": str(self.meaning),
                "signer": {"subject": self.signer, "name": self.signer_name},
                "signed_at": timestamp(self.signed_at),
                "record": {"capa_id": self.capa_id, "id": self.record_id},
                "content": dict(self.content)}


def canonical_json(value: Any) -> str:
    """Keys sorted, no whitespace, non-ASCII kept as UTF-8. Only JSON's own types
    are accepted: a date or float would hash differently depending on who
    serialised it."""
    _check_plain(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _check_plain(value: Any, path: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: keys must be strings")
            _check_plain(item, f"{path}.{key}")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{path}[{index}]")
        return
    raise TypeError(f"{path}: {type(value).__name__} is not canonical JSON")


def signature_hash(manifest: Manifest) -> str:
    return hashlib.sha256(canonical_json(manifest.document()).encode()).hexdigest()
