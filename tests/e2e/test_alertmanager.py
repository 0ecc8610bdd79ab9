"""A real Alertmanager (Debian's), configured from the sample under deploy/,
fires at the intake of the services `make run` starts, and the NC appears."""

import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx

from tests.conftest import ROOT, unavailable
from tests.e2e.test_run_services import _free_port, services_running

SAMPLE = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def _alertmanager_binary() -> str:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        unavailable("Alertmanager is not installed (deploy/alertmanager/ensure.sh installs it)")
    return binary


def _config_for(sample: str, *, intake_port: int, token_file: Path) -> str:
    # The sample as shipped, pointed at this run's port and credentials, and
    # quick to send (a test should not wait the production group_wait).
    return (sample.replace("127.0.0.1:8001", f"127.0.0.1:{intake_port}")
            .replace("../../var/source-tokens/alertmanager.token", str(token_file))
            .replace("group_wait: 10s", "group_wait: 1s"))


def test_real_alertmanager_fires_into_the_intake(tmp_path: Path) -> None:
    binary = _alertmanager_binary()
    with services_running({"BUS": "sql"}, tmp_path) as ports:
        var = tmp_path / "var"
        config = tmp_path / "alertmanager.yml"
        config.write_text(_config_for(SAMPLE.read_text(), intake_port=ports["nonconformity"],
                                      token_file=var / "source-tokens" / "alertmanager.token"))
        am_port = _free_port()
        log = (tmp_path / "alertmanager.log").open("wb")
        alertmanager = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
             f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address="],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            am = f"http://127.0.0.1:{am_port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{am}/-/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "alertmanager.log").read_text()
                time.sleep(0.2)

            name = f"DiskFull{uuid.uuid4().hex[:6]}"
            fired = httpx.post(f"{am}/api/v2/alerts", json=[{
                "labels": {"alertname": name, "severity": "critical", "service": "orders-db"},
                "annotations": {"summary": "Disk 95% full"},
                "generatorURL": "http://prometheus.local/graph"}])
            assert fired.status_code == 200, fired.text

            key = json.loads((var / "dev-credentials.json").read_text())["api_keys"]["engineer"]
            found: list[dict] = []
            deadline = time.monotonic() + 60
            while not found:
                assert time.monotonic() < deadline, (tmp_path / "alertmanager.log").read_text()
                items = httpx.get(f"http://127.0.0.1:{ports['nonconformity']}/v1/nonconformities",
                                  params={"source": "monitoring"},
                                  headers={"Authorization": f"Bearer {key}"}).json()["items"]
                found = [i for i in items if i["title"].startswith(name)]
                time.sleep(0.3)
            [nc] = found
            assert nc["title"] == f"{name}: Disk 95% full"
            assert nc["reported_by"] == "alertmanager"
            assert nc["severity"] == "critical" and nc["affected_item"] == "orders-db"
            assert nc["fingerprint"]
            assert nc["escalation_reason"] == "severity"
        finally:
            alertmanager.terminate()
            alertmanager.wait(timeout=20)
            log.close()
