"""schemathesis against each service's OpenAPI, with a manager's key, on the
services as `make run` starts them, and against the monitoring intakes with
their source tokens: no server errors, and responses, status codes, content
types and headers as documented; schema-violating input refused; schema-valid
input accepted; 405s listing every allowed method.

Configured in tests/e2e/schemathesis.toml and tests/e2e/fuzz_hooks.py:
- positive_data_acceptance also counts 412: a stale If-Match is well-formed
  but names a version someone else replaced; no schema can know the current
  ETag. Only If-Match routes answer 412.
- missing_required_header also counts 428, RFC 6585's status for a missing
  If-Match (the header is declared required).
- negative_data_rejection also counts 413: a body over the size limit (an
  alert batch past maxItems can be) is refused before it is read.
- A well-formed Idempotency-Key is replaced by a fresh one per request, as a
  client does; schemathesis would otherwise reuse one key with many bodies,
  which the server refuses (422) by design.
- A schema-valid webhook or Slack target that the SSRF guard refuses is not
  counted as a rejected valid request, and only when the 422 carries the
  guard's documented problem type (urn:capaflow:problem:target-not-allowed):
  whether an invented host name resolves, and to a public address, is a fact
  of DNS and the network that no schema can state. Every other 422 counts.

Every service and both intakes run with every check; nothing is excluded.
Live streams end after 0.2 s here (NOTIFICATIONS_STREAM_MAX_DURATION), so the
stream's schema-valid requests finish at once instead of at the request timeout.

One `make run` stack serves the three services' runs (a module fixture): each
service is fuzzed on its own process, so a stack per run only added start-ups;
the five runs (three services, two intakes) go side by side, which uses both
cores. schemathesis' --workers 2 was measured and left out: no faster on two
cores. Hypothesis' too_slow health check is suppressed: it judges the machine's
speed, not the API.
"""

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.test_run_services import SERVICES, services_running

SCHEMATHESIS = str(ROOT / ".venv" / "bin" / "schemathesis")
CONFIG = str(ROOT / "tests" / "e2e" / "schemathesis.toml")
# A live stream answers until it ends: short streams keep the run short.
SHORT_STREAMS = {"NOTIFICATIONS_STREAM_MAX_DURATION": "0.2",
                 "NOTIFICATIONS_STREAM_POLL_INTERVAL": "0.1"}
INTAKES = {"alertmanager": "/v1/intake/alertmanager", "grafana": "/v1/intake/grafana"}


def _schemathesis(url: str, token: str, report: Path, *extra: str) -> subprocess.Popen[str]:
    """One schemathesis run, started (not awaited): the runs of the three services
    go side by side, each against its own service process."""
    env = os.environ | {"SCHEMATHESIS_HOOKS": "tests.e2e.fuzz_hooks", "PYTHONPATH": str(ROOT)}
    report.mkdir(parents=True)
    return subprocess.Popen(
        [SCHEMATHESIS, "--config-file", CONFIG, "run", url,
         "-H", f"Authorization: Bearer {token}", "--checks", "all",
         "--max-examples", "15", "--seed", "20261126", "--no-color",
         # Hypothesis' "data generation is too slow" is a judgement of this
         # machine's speed, not of the API: on a busy machine it failed a run
         # whose every case passed. Only that timing check is off; every
         # schemathesis check still runs.
         "--suppress-health-check", "too_slow",
         "--request-timeout", "30", "--report-dir", str(report / "report"), *extra],
        cwd=report, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, int], dict]]:
    """One `make run` stack for the module: each service is fuzzed on its own
    process, so the runs need no stack of their own (one start, not three)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    with services_running({"BUS": "sql"} | SHORT_STREAMS, tmp) as ports:
        yield ports, json.loads((tmp / "var" / "dev-credentials.json").read_text())


def test_schemathesis_finds_nothing(stack: tuple[dict[str, int], dict], tmp_path: Path) -> None:
    """Every service with a manager's key, and each intake with its own source
    token (a person's key gets 403 there). The five runs go at once: each run
    waits on its server half the time, so side by side they use both cores."""
    ports, creds = stack
    runs: dict[str, subprocess.Popen[str]] = {}
    for service in SERVICES:
        url = f"http://127.0.0.1:{ports[service]}/openapi.json"
        runs[service] = _schemathesis(url, creds["api_keys"]["manager"], tmp_path / service,
                                      "--exclude-path-regex", "^/v1/intake/")
        if service == "nonconformity":
            for source, path in INTAKES.items():
                runs[source] = _schemathesis(url, creds["source_tokens"][source],
                                             tmp_path / source, "--include-path", path)
    try:
        outputs = {name: run.communicate(timeout=900)[0] for name, run in runs.items()}
    finally:
        for run in runs.values():
            if run.poll() is None:
                run.kill()
    failed = {name: out[-6000:] for name, out in outputs.items()
              if runs[name].returncode != 0}
    assert not failed, "\n\n".join(f"== {name}\n{out}" for name, out in failed.items())
