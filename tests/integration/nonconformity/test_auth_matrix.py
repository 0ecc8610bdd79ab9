"""Every endpoint by every role: who may call it (not 401/403), who gets 403,
and 401 without a key."""

import pytest

from tests.integration.nonconformity.conftest import NcService, alert, alertmanager_payload

PEOPLE = {"reporter", "engineer", "verifier", "manager", "admin"}
ALL = PEOPLE | {"source:alertmanager", "source:grafana"}

# (method, path, body, roles allowed). {id} is an existing NC.
ENDPOINTS = [
    ("POST", "/v1/nonconformities", {"title": "Matrix report", "severity": "minor"}, PEOPLE),
    ("GET", "/v1/nonconformities", None, PEOPLE),
    ("GET", "/v1/nonconformities/{id}", None, PEOPLE),
    ("GET", "/v1/nonconformities/{id}/history", None, PEOPLE),
    ("PATCH", "/v1/nonconformities/{id}", {"category": "matrix"},
     {"engineer", "manager", "admin"}),
    ("POST", "/v1/nonconformities/{id}/triage", {"decision": "accept", "reason": "ok"},
     {"engineer", "manager", "admin"}),
    ("POST", "/v1/nonconformities/{id}/correction", {"correction": "contained"},
     {"engineer", "manager", "admin"}),
    ("POST", "/v1/nonconformities/{id}/close", {"resolution": "done"},
     {"engineer", "manager", "admin"}),
    ("POST", "/v1/nonconformities/{id}/reopen", {"reason": "again"}, {"manager", "admin"}),
    ("POST", "/v1/audits/IA-1/findings", {"clause": "9.2", "finding_type": "observation",
                                          "title": "Records", "evidence": "e", "auditor": "a",
                                          "process_audited": "p"},
     {"engineer", "verifier", "manager", "admin"}),
    ("POST", "/v1/intake/alertmanager", alertmanager_payload(alert("matrix")),
     {"source:alertmanager"}),
    ("POST", "/v1/intake/grafana", {"status": "firing", "alerts": [alert("matrix-g")]},
     {"source:grafana"}),
]


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ENDPOINTS,
                         ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS])
@pytest.mark.requirement("part11-11.10d", "part11-11.10g")
async def test_roles(nc: NcService, method: str, path: str, body: dict | None,
                     allowed: set[str]) -> None:
    nc_id = (await nc.report()).json()["id"]
    url = path.format(id=nc_id)
    anonymous = await nc.client.request(method, url, json=body)
    assert anonymous.status_code == 401
    for role in sorted(ALL):
        headers = nc.auth(role) | {"If-Match": "*"}
        r = await nc.client.request(method, url, json=body, headers=headers)
        if role in allowed:
            assert r.status_code not in (401, 403), (role, r.status_code, r.text)
            assert r.status_code < 500
        else:
            assert r.status_code == 403, (role, r.status_code, r.text)
            assert r.headers["content-type"] == "application/problem+json"
