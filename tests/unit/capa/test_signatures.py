"""Electronic signatures' pure rules: the meanings table, the signer's
eligibility (§11.200) and the hash over the canonical document (§11.70)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from services.capa.domain import CapaStatus
from services.capa.domain.signatures import (
    MEANINGS,
    Manifest,
    Meaning,
    ReauthenticationRequired,
    SignedMove,
    canonical_json,
    check_meaning,
    check_signer,
    missing_signature,
    signature_hash,
    signed_move_of,
    timestamp,
)
from shared.errors import Invalid, NotPermitted

NOW = datetime(2026, 12, 7, 9, 48, 12, 345678, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def manifest(**changes: Any) -> Manifest:
    base = Manifest(move=SignedMove.effectiveness_verification, meaning=Meaning.review,
                    signer="vera", signer_name="Vera Vogt", signed_at=NOW,
                    capa_id="7b0c5c2e-0000-4000-8000-000000000001",
                    record_id="0d9a3c55-0000-4000-8000-000000000002",
                    content={"capa": {"number": "CAPA-2026-00001"},
                             "effectiveness_verification": {"result": "effective",
                                                            "evidence": "0 leaks in 30 days",
                                                            "cycle": 0}})
    return replace(base, **changes)


def test_each_move_accepts_its_meanings_only() -> None:
    assert set(MEANINGS) == set(SignedMove)
    assert MEANINGS[SignedMove.root_cause_approval] == (Meaning.approval, Meaning.review)
    assert Meaning.authorship not in MEANINGS[SignedMove.closure]
    for move, meanings in MEANINGS.items():
        for meaning in Meaning:
            if meaning in meanings:
                check_meaning(move, meaning)
            else:
                with pytest.raises(Invalid) as refused:
                    check_meaning(move, meaning)
                assert str(meaning) in refused.value.detail
                assert refused.value.extensions["errors"][0]["field"] == "signature.meaning"


def test_the_missing_signature_names_the_move_and_the_meanings() -> None:
    refusal = missing_signature(SignedMove.closure)
    assert refusal.status == 422
    assert "Closing a CAPA needs an electronic signature" in refusal.detail
    assert "approval or responsibility" in refusal.detail


def test_only_planning_on_the_analysis_and_closing_are_signed_transitions() -> None:
    assert signed_move_of(CapaStatus.investigating,
                          CapaStatus.action_planned) is SignedMove.root_cause_approval
    assert signed_move_of(CapaStatus.verifying, CapaStatus.closed) is SignedMove.closure
    assert signed_move_of(CapaStatus.open, CapaStatus.investigating) is None
    assert signed_move_of(CapaStatus.verifying, CapaStatus.cancelled) is None


def test_an_api_key_never_signs() -> None:
    with pytest.raises(NotPermitted, match="API key cannot sign"):
        check_signer(method="api_key", auth_time=int(NOW.timestamp()), now=NOW, max_age=FIVE)


@pytest.mark.requirement("part11-11.200")
def test_a_fresh_authentication_signs_a_stale_one_must_authenticate_again() -> None:
    fresh = int((NOW - timedelta(minutes=4, seconds=59)).timestamp())
    assert check_signer(method="oidc", auth_time=fresh, now=NOW, max_age=FIVE) \
        == datetime.fromtimestamp(fresh, UTC)
    stale = int((NOW - timedelta(minutes=5, seconds=2)).timestamp())
    with pytest.raises(ReauthenticationRequired) as refused:
        check_signer(method="oidc", auth_time=stale, now=NOW, max_age=FIVE)
    assert refused.value.status == 401
    assert "re-authenticate to sign" in refused.value.detail
    assert "5 minute(s)" in refused.value.detail
    challenge = (refused.value.headers or {})["WWW-Authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert 'max_age="300"' in challenge
    # A token that does not say when the person authenticated cannot sign either.
    with pytest.raises(ReauthenticationRequired, match="auth_time"):
        check_signer(method="oidc", auth_time=None, now=NOW, max_age=FIVE)


def test_the_timestamp_is_utc_iso_8601_in_whole_seconds() -> None:
    assert timestamp(NOW) == "2026-12-07T09:48:12Z"
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    assert timestamp(berlin) == "2026-12-07T09:48:12Z"


def test_canonical_json_is_sorted_compact_utf8_and_json_types_only() -> None:
    assert canonical_json({"b": 1, "a": {"d": [True, None], "c": "Grüße"}}) \
        == '{"a":{"c":"Grüße","d":[true,null]},"b":1}'
    with pytest.raises(TypeError, match="float"):
        canonical_json({"ratio": 0.1})
    with pytest.raises(TypeError, match="date"):
        canonical_json({"when": NOW.date()})


@pytest.mark.requirement("part11-11.70")
def test_the_hash_is_stable_and_covers_every_part_of_the_manifest() -> None:
    signed = manifest()
    digest = signature_hash(signed)
    assert len(digest) == 64 and digest == signature_hash(manifest())
    # Key order and sub-second time do not change it (the stored time is whole seconds).
    reordered = dict(reversed(list(signed.content.items())))
    assert signature_hash(replace(signed, content=reordered)) == digest
    assert signature_hash(replace(signed, signed_at=NOW.replace(microsecond=0))) == digest
    # The known value: a change to the canonical form would break every stored signature.
    assert digest == "8ccb8c01a5ff14ccb83df9a8bda03f9cad7ad53a4ec03bfd293132919efbb2a4"
    for changes in ({"meaning": Meaning.responsibility}, {"signer": "mona"},
                    {"signer_name": "Vera V."}, {"signed_at": NOW + timedelta(seconds=1)},
                    {"record_id": "0d9a3c55-0000-4000-8000-000000000003"},
                    {"capa_id": "7b0c5c2e-0000-4000-8000-000000000009"},
                    {"move": SignedMove.closure},
                    {"content": {**signed.content, "capa": {"number": "CAPA-2026-00002"}}}):
        assert signature_hash(replace(signed, **changes)) != digest, changes


def test_the_document_is_what_the_hash_covers() -> None:
    document = manifest().document()
    assert document["signed_at"] == "2026-12-07T09:48:12Z"
    assert document["signer"] == {"subject": "vera", "name": "Vera Vogt"}
    assert document["meaning"] == "review"
    assert document["record"]["id"] == "0d9a3c55-0000-4000-8000-000000000002"
    assert document["scheme"] == "sha256/canonical-json/v1"
