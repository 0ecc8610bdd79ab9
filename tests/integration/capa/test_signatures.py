"""Electronic signatures with real Keycloak tokens (docs/signatures.md).

People sign with the access token of a fresh interactive login at Keycloak
(tests/integration/interactive_login.py): only such a login gives the
``auth_time`` a signature needs. Staleness is shown by moving the service's
clock past the allowed age, never by waiting.
"""

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import col, select

from services.capa.api.deps import clock
from services.capa.app import create_app
from services.capa.models import OutboxMessage
from shared.db import SessionFactory
from tests.conftest import DatabaseFactory, running
from tests.integration.capa.conftest import Capas, capa_settings
from tests.integration.interactive_login import interactive_token
from tests.integration.test_oidc import bearer, issuer, password_token


@pytest.fixture
async def capas(new_sqlite_database: DatabaseFactory,
                api_keys: tuple[Path, dict[str, str]]) -> AsyncIterator[Capas]:
    keys_path, keys = api_keys
    settings = await capa_settings(new_sqlite_database, keys_path, oidc_issuer=issuer())
    app = create_app(settings)
    async with running(app) as client:
        yield Capas(client=client, keys=keys, settings=settings, app=app)


def _sessions(capas: Capas) -> SessionFactory:
    sessions: SessionFactory = capas.app.state.runtime.sessions
    return sessions


def auth_time(token: str) -> datetime:
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return datetime.fromtimestamp(claims["auth_time"], UTC)


async def verify_signed(capas: Capas, capa_id: str, token: str, meaning: str = "review",
                        **body: Any) -> httpx.Response:
    return await capas.client.post(
        f"/v1/capas/{capa_id}/effectiveness-verifications", headers=bearer(token),
        json={"result": "effective", "evidence": "30 days of line data, 0 leaks",
              "signature": {"meaning": meaning}} | body)


async def events(capas: Capas, event_type: str) -> list[dict[str, Any]]:
    async with _sessions(capas)() as session:
        rows = (await session.exec(select(OutboxMessage.value)
                                   .where(col(OutboxMessage.event_type) == event_type)
                                   .order_by(col(OutboxMessage.id)))).all()
    found = []
    for raw in rows:
        body = json.loads(raw)
        found.append(body.get("data", body))
    return found


@pytest.mark.requirement("part11-11.50", "part11-11.70", "part11-11.100")
async def test_a_fresh_login_signs_the_verification_and_everything_shows_it(
        capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    vera = await interactive_token(issuer(), "vera")
    signed = await verify_signed(capas, capa["id"], vera)
    assert signed.status_code == 201, signed.text
    signature = signed.json()["signature"]
    assert (signature["signer"], signature["signer_name"], signature["meaning"]) \
        == ("vera", "Vera Vogt", "review")
    assert signature["move"] == "effectiveness_verification"
    assert signature["signed_at"].endswith("Z") or signature["signed_at"].endswith("+00:00")
    assert signature["manifestation"].startswith("Signed by Vera Vogt (vera) on ")
    assert signature["content"]["effectiveness_verification"]["evidence"] \
        == "30 days of line data, 0 leaks"
    assert len(signature["hash"]) == 64

    shown = (await capas.client.get(f"/v1/capas/{capa['id']}",
                                    headers=capas.as_("reporter"))).json()
    assert [s["id"] for s in shown["signatures"]] == [signature["id"]]
    listed = await capas.client.get(f"/v1/capas/{capa['id']}/effectiveness-verifications",
                                    headers=capas.as_("reporter"))
    assert listed.json()[0]["signature"]["hash"] == signature["hash"]
    check = await capas.client.get(f"/v1/capas/{capa['id']}/signatures/verify",
                                   headers=capas.as_("reporter"))
    assert check.json() == {"valid": True, "signatures": 1, "broken": []}

    # In the audit trail, chained like every entry: the chain still verifies.
    trail = (await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail",
                                    headers=capas.as_("reporter"))).json()["items"]
    entry = next(e for e in trail if e["action"] == "signed")
    assert entry["actor"] == "vera" and entry["after"]["hash"] == signature["hash"]
    audit = await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail/verify",
                                   headers=capas.as_("reporter"))
    assert audit.json()["valid"] is True, audit.json()

    # The event names the signature, never the token.
    [event] = await events(capas, "capaflow.capa.effectiveness_verified.v1")
    assert event["signature"]["hash"] == signature["hash"]
    assert event["signature"]["signer"] == "vera"
    assert event["signature"]["meaning"] == "review"
    assert vera not in json.dumps(event) and "token" not in json.dumps(event)


@pytest.mark.requirement("part11-11.200")
async def test_a_stale_authentication_must_authenticate_again(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    vera = await interactive_token(issuer(), "vera")
    # Six minutes after the login (the default allows five): the token is still
    # valid for reading and writing, but too old to sign.
    capas.app.dependency_overrides[clock] = lambda: auth_time(vera) + timedelta(minutes=6)
    refused = await verify_signed(capas, capa["id"], vera)
    assert refused.status_code == 401, refused.text
    assert "re-authenticate to sign" in refused.json()["detail"]
    assert 'error="insufficient_user_authentication"' in refused.headers["www-authenticate"]
    # The deployment may allow more (CAPA_SIGNATURE_MAX_AGE_MINUTES).
    capas.settings.signature_max_age_minutes = 10
    assert (await verify_signed(capas, capa["id"], vera)).status_code == 201


@pytest.mark.requirement("part11-11.200", "part11-11.100")
async def test_an_api_key_or_a_password_grant_token_cannot_sign(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    by_key = await capas.client.post(
        f"/v1/capas/{capa['id']}/effectiveness-verifications", headers=capas.as_("verifier"),
        json={"result": "effective", "evidence": "line data",
              "signature": {"meaning": "review"}})
    assert by_key.status_code == 403, by_key.text
    assert "API key cannot sign" in by_key.json()["detail"]
    # A token from a login that recorded no authentication time (the password grant).
    no_auth_time = await password_token(issuer(), "vera")
    refused = await verify_signed(capas, capa["id"], no_auth_time)
    assert refused.status_code == 401 and "auth_time" in refused.json()["detail"]
    # A meaning the move does not take.
    vera = await interactive_token(issuer(), "vera")
    wrong = await verify_signed(capas, capa["id"], vera, meaning="approval")
    assert wrong.status_code == 422 and "authorship, review or responsibility" in \
        wrong.json()["detail"]
    # Nothing was recorded by the refusals.
    listed = await capas.client.get(f"/v1/capas/{capa['id']}/effectiveness-verifications",
                                    headers=capas.as_("reporter"))
    assert listed.json() == []


async def test_the_signer_obeys_the_moves_independence_rule(capas: Capas) -> None:
    capa = await capas.open(owner="Vera")  # the owner, spelt otherwise
    await capas.to_verifying(capa["id"])
    vera = await interactive_token(issuer(), "vera")
    refused = await verify_signed(capas, capa["id"], vera)
    assert refused.status_code == 403, refused.text
    assert "another verifier or manager" in refused.json()["detail"]


@pytest.mark.requirement("part11-11.50")
async def test_required_signatures_refuse_the_unsigned_moves_and_the_signed_path_closes(
        capas: Capas) -> None:
    capas.settings.signatures_required = True
    capa = await capas.open()
    assert (await capas.move(capa["id"], "investigating")).status_code == 200
    assert (await capas.submit_root_cause(capa["id"])).status_code == 200
    unsigned = await capas.move(capa["id"], "action_planned")
    assert unsigned.status_code == 422, unsigned.text
    assert "Approving the root-cause analysis needs an electronic signature" \
        in unsigned.json()["detail"]
    assert unsigned.json()["errors"][0]["field"] == "signature"

    erin = await interactive_token(issuer(), "erin")
    approved = await capas.client.post(
        f"/v1/capas/{capa['id']}/transitions", headers=bearer(erin),
        json={"to": "action_planned", "signature": {"meaning": "approval"}})
    assert approved.status_code == 200, approved.text
    [approval] = approved.json()["signatures"]
    assert approval["move"] == "root_cause_approval" and approval["signer"] == "erin"
    assert approval["content"]["root_cause_analysis"]["root_cause"] \
        == "The gasket specification omits the operating temperature"
    [changed] = [e for e in await events(capas, "capaflow.capa.status_changed.v1")
                 if e["to_status"] == "action_planned"]
    assert changed["signature"]["hash"] == approval["hash"]
    # A move that is never signed refuses a signature.
    action = await capas.add_action(capa["id"])
    odd = await capas.client.post(
        f"/v1/capas/{capa['id']}/transitions", headers=bearer(erin),
        json={"to": "implementing", "signature": {"meaning": "approval"}})
    assert odd.status_code == 422 and "not signed" in odd.json()["detail"]
    assert (await capas.move(capa["id"], "implementing")).status_code == 200
    assert (await capas.finish_action(capa["id"], action)).status_code == 200
    assert (await capas.move(capa["id"], "verifying")).status_code == 200
    plan = await capas.client.put(
        f"/v1/capas/{capa['id']}/effectiveness-plan", headers=capas.as_("engineer"),
        json={"criteria": "No seal leak for 30 days",
              "check_date": datetime.now(UTC).date().isoformat()})
    assert plan.status_code == 200, plan.text

    unsigned_check = await capas.verify(capa["id"])
    assert unsigned_check.status_code == 422
    assert "Recording an effectiveness verification needs" in unsigned_check.json()["detail"]
    vera = await interactive_token(issuer(), "vera")
    assert (await verify_signed(capas, capa["id"], vera,
                                meaning="responsibility")).status_code == 201

    lesson = {"what_to_do_differently": "State operating temperatures in every seal spec",
              "tags": ["seals", "specs"]}
    unsigned_close = await capas.move(capa["id"], "closed", role="manager", lesson=lesson)
    assert unsigned_close.status_code == 422
    assert "Closing a CAPA needs an electronic signature" in unsigned_close.json()["detail"]
    mona = await interactive_token(issuer(), "mona")
    closed = await capas.client.post(
        f"/v1/capas/{capa['id']}/transitions", headers=bearer(mona),
        json={"to": "closed", "lesson": lesson, "signature": {"meaning": "approval"}})
    assert closed.status_code == 200, closed.text
    moves = [(s["move"], s["signer"], s["meaning"]) for s in closed.json()["signatures"]]
    assert moves == [("root_cause_approval", "erin", "approval"),
                     ("effectiveness_verification", "vera", "responsibility"),
                     ("closure", "mona", "approval")]
    closure = closed.json()["signatures"][2]
    assert closure["content"]["lesson"]["what_to_do_differently"] \
        == lesson["what_to_do_differently"]
    [closed_event] = await events(capas, "capaflow.capa.closed.v1")
    assert closed_event["signature"]["hash"] == closure["hash"]
    assert closed_event["signature"]["signer_name"] == closure["signer_name"] != "mona"

    # Three signatures intact, and the audit chain with their entries intact too.
    check = await capas.client.get(f"/v1/capas/{capa['id']}/signatures/verify",
                                   headers=capas.as_("reporter"))
    assert check.json() == {"valid": True, "signatures": 3, "broken": []}
    audit = await capas.client.get(f"/v1/capas/{capa['id']}/audit-trail/verify",
                                   headers=capas.as_("reporter"))
    assert audit.json()["valid"] is True, audit.json()


@pytest.mark.requirement("part11-11.70")
async def test_tampered_records_and_signatures_are_named_by_verify(capas: Capas) -> None:
    capa = await capas.open()
    await capas.to_verifying(capa["id"])
    vera = await interactive_token(issuer(), "vera")
    signed = await verify_signed(capas, capa["id"], vera)
    assert signed.status_code == 201, signed.text
    signature_id = signed.json()["signature"]["id"]
    verification_id = signed.json()["id"]
    url = f"/v1/capas/{capa['id']}/signatures/verify"
    # Someone with database access edits the signed evidence.
    async with _sessions(capas)() as session:
        await session.exec(text("UPDATE capa_effectiveness_checks SET evidence = "  # type: ignore[call-overload]
                                "'3 leaks, accepted anyway' WHERE id = :id"),
                           params={"id": verification_id.replace("-", "")})
        await session.commit()
    report = (await capas.client.get(url, headers=capas.as_("reporter"))).json()
    assert report["valid"] is False
    [broken] = report["broken"]
    assert broken["id"] == signature_id and broken["signer"] == "vera"
    assert "changed after signing" in broken["problem"]
    assert "effectiveness_verification" in broken["problem"]

    # ...and the signature's meaning, to make the edit look approved.
    async with _sessions(capas)() as session:
        await session.exec(text("UPDATE capa_signatures SET meaning = 'responsibility'"))  # type: ignore[call-overload]
        await session.commit()
    report = (await capas.client.get(url, headers=capas.as_("reporter"))).json()
    assert "no longer matches its hash" in report["broken"][0]["problem"]


@pytest.mark.requirement("part11-11.10d", "part11-11.10g")
async def test_a_person_without_a_capaflow_role_reads_nothing(capas: Capas) -> None:
    # A valid token of the company's provider is not enough: every read of the CAPA
    # service needs one of the people's roles, like the other services' reads.
    capa = await capas.open()
    nora = await password_token(issuer(), "nora")  # in the realm, no CAPAflow role
    rita = await password_token(issuer(), "rita")
    for path in ("/v1/capas", f"/v1/capas/{capa['id']}", f"/v1/capas/{capa['id']}/audit-trail",
                 f"/v1/capas/{capa['id']}/transitions", f"/v1/capas/{capa['id']}/evidence",
                 f"/v1/capas/{capa['id']}/signatures", "/v1/lessons",
                 "/v1/management-review"):
        refused = await capas.client.get(path, headers=bearer(nora))
        assert refused.status_code == 403, (path, refused.text)
        assert (await capas.client.get(path, headers=bearer(rita))).status_code == 200, path
