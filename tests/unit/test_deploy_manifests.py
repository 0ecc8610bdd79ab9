"""deploy/k8s and deploy/prometheus say what the code expects.

Checked at the text level, without a YAML parser (PyYAML is no dependency of
the project): documents are split on ``---`` lines and read with regular
expressions that match the layout the manifests are written in.
"""

import importlib
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

K8S = ROOT / "deploy" / "k8s"
SERVICES = ("nonconformity", "capa", "notifications")
SETTINGS = {"nonconformity": "NonconformitySettings", "capa": "CapaSettings",
            "notifications": "NotificationsSettings"}


def _documents(path: Path) -> list[str]:
    return [doc for doc in re.split(r"(?m)^---\s*$", path.read_text())
            if re.search(r"(?m)^kind:", doc)]


def _kind(doc: str) -> str:
    match = re.search(r"(?m)^kind: *(\S+)", doc)
    assert match, doc[:200]
    return match.group(1)


def _name(doc: str) -> str:
    match = re.search(r"(?m)^metadata:\n(?:  .*\n)*?  name: *(\S+)", doc)
    assert match, doc[:200]
    return match.group(1)


def _objects(path: Path) -> dict[tuple[str, str], str]:
    return {(_kind(doc), _name(doc)): doc for doc in _documents(path)}


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    text = (K8S / "kustomization.yaml").read_text()
    listed = re.findall(r"(?m)^  - (\S+\.yaml)$", text)
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml")
                                    if p.name not in ("kustomization.yaml",
                                                      "secrets.example.yaml"))
    for path in K8S.glob("*.yaml"):
        assert path.read_text().strip(), path
        if path.name != "kustomization.yaml":
            for doc in _documents(path):
                assert re.search(r"(?m)^apiVersion: *\S+", doc), (path, doc[:200])


@pytest.mark.parametrize("service", SERVICES)
def test_service_has_api_worker_hpa_and_migration(service: str) -> None:
    objects = _objects(K8S / f"{service}.yaml")
    assert set(objects) == {
        ("ConfigMap", f"{service}-config"), ("Service", service),
        ("Deployment", f"{service}-api"), ("Deployment", f"{service}-worker"),
        ("HorizontalPodAutoscaler", f"{service}-api"), ("Job", f"{service}-migrate"),
        ("PodDisruptionBudget", f"{service}-api"), ("PodDisruptionBudget", f"{service}-worker")}
    prefix = service.upper()
    for role, workers in (("api", "false"), ("worker", "true")):
        doc = objects[("Deployment", f"{service}-{role}")]
        for required in ("livenessProbe:", "path: /healthz", "readinessProbe:",
                         "path: /readyz", "resources:", "requests:", "limits:",
                         "runAsNonRoot: true", "allowPrivilegeEscalation: false",
                         f'args: ["services.{service}.app:create_app"]',
                         f"name: {service}-config"):
            assert required in doc, (service, role, required)
        assert re.search(rf'- name: {prefix}_RUN_WORKERS\n +value: "{workers}"', doc), role
    # Workers scale out (claims, leases, the relay's leader election) and roll
    # without a gap: never Recreate, never pinned to one replica.
    worker = objects[("Deployment", f"{service}-worker")]
    replicas = re.search(r"(?m)^  replicas: (\d+)$", worker)
    assert replicas and int(replicas.group(1)) >= 2, service
    assert "type: Recreate" not in worker and "maxUnavailable: 0" in worker
    if service == "notifications":
        # Long enough for an attempt to reach its deadline and the claims to be given back.
        grace = re.search(r"terminationGracePeriodSeconds: (\d+)", worker)
        assert grace and int(grace.group(1)) > 30 + 10, "deadline + lifespan margin"
    for role, rule in (("api", "minAvailable: 1"), ("worker", "maxUnavailable: 1")):
        pdb = objects[("PodDisruptionBudget", f"{service}-{role}")]
        assert "apiVersion: policy/v1" in pdb and rule in pdb, (service, role)
        assert re.search(rf"matchLabels:\n +app.kubernetes.io/name: {service}\n"
                         rf" +app.kubernetes.io/component: {role}\n", pdb), (service, role)

    hpa = objects[("HorizontalPodAutoscaler", f"{service}-api")]
    assert "apiVersion: autoscaling/v2" in hpa and "averageUtilization: 70" in hpa
    assert re.search(rf"kind: Deployment\n +name: {service}-api\n", hpa)
    service_doc = objects[("Service", service)]
    assert "app.kubernetes.io/component: api" in service_doc
    job = objects[("Job", f"{service}-migrate")]
    assert f'command: ["python", "-m", "services.{service}.migrate"]' in job
    assert "runAsNonRoot: true" in job
    importlib.import_module(f"services.{service}.migrate")
    assert callable(importlib.import_module(f"services.{service}.app").create_app)


@pytest.mark.parametrize("service", SERVICES)
def test_every_variable_is_a_setting_of_its_service(service: str) -> None:
    """A misspelt variable would be ignored silently (extra="ignore")."""
    module = importlib.import_module(f"services.{service}.settings")
    fields = getattr(module, SETTINGS[service]).model_fields
    text = (K8S / f"{service}.yaml").read_text()
    names = set(re.findall(r"(?m)^  ([A-Z][A-Z0-9_]+):", text))
    names |= set(re.findall(r"- name: ([A-Z][A-Z0-9_]+)$", text, re.MULTILINE))
    assert names, service
    prefix = f"{service.upper()}_"
    for name in names:
        assert name.startswith(prefix), name
        assert name.removeprefix(prefix).lower() in fields, name


def test_every_secret_reference_has_its_example() -> None:
    secrets: dict[str, str] = {_name(doc): doc
                               for doc in _documents(K8S / "secrets.example.yaml")}
    for service in (*SERVICES, "web"):
        text = (K8S / f"{service}.yaml").read_text()
        refs = re.findall(r"secretKeyRef: \{name: ([\w-]+), key: ([\w.-]+)", text)
        refs += re.findall(r"secretName: ([\w-]+)\n +items:\n +- key: ([\w.-]+)", text)
        assert refs, service
        for name, key in refs:
            assert name in secrets, name
            assert re.search(rf"(?m)^  {re.escape(key)}:", secrets[name]), (name, key)


def test_prometheus_scrapes_the_services_and_the_ui_and_alerts_via_alertmanager() -> None:
    prometheus = ROOT / "deploy" / "prometheus"
    text = (prometheus / "prometheus.yml").read_text()
    for port, service in (("8001", "nonconformity"), ("8002", "capa"),
                          ("8003", "notifications"), ("8000", "web")):
        assert re.search(rf'targets: \["127\.0\.0\.1:{port}"\]\n +labels: '
                         rf"\{{service: {service}\}}", text), service
    assert "kubernetes_sd_configs" in text
    assert "deploy/alertmanager/alertmanager.yml" in text
    assert (ROOT / "deploy" / "alertmanager" / "alertmanager.yml").is_file()
    for rule_file in re.findall(r"(?m)^  - (\S+\.yml)$", text):
        rules = (prometheus / rule_file).read_text()
        assert re.findall(r"(?m)^      - alert: \w+", rules), rule_file


def test_compose_has_every_part_of_the_loop() -> None:
    """docker-compose.yml: Kafka, PostgreSQL, migrations, an SMTP sink, the
    three services, each service waiting for migrations (checked by text:
    no YAML parser is a project dependency)."""
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("kafka", "postgres", "migrate", "smtp", "nonconformity", "capa",
                 "notifications", "web"):
        assert text.count(f"\n  {name}:\n") == 1, name
    assert "service_completed_successfully" in text
    assert "NOTIFICATIONS_SMTP_HOST: smtp" in text


def test_compose_file_is_valid_for_compose() -> None:
    import shutil
    import subprocess

    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        command = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        command = ["docker-compose"]
    else:
        pytest.skip("no docker compose client on this machine")
    result = subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_web_ui_manifest_uses_only_its_settings_and_scales_out() -> None:
    from services.web.settings import WebSettings

    text = (K8S / "web.yaml").read_text()
    names = set(re.findall(r"(?m)^  (WEB_[A-Z0-9_]+):", text))
    assert {"WEB_CAPA_URL", "WEB_CREDENTIALS_FILE", "WEB_COOKIE_SECURE"} <= names
    for name in names | {"WEB_DATABASE_URL"}:
        assert name.removeprefix("WEB_").lower() in WebSettings.model_fields, name
    # Sessions live in the UI's own database (docs/ui.md): any replica serves anyone.
    objects = _objects(K8S / "web.yaml")
    deployment = objects[("Deployment", "web")]
    replicas = re.search(r"(?m)^  replicas: (\d+)$", deployment)
    assert replicas and int(replicas.group(1)) >= 2
    assert "type: Recreate" not in deployment and "maxUnavailable: 0" in deployment
    assert 'args: ["services.web.app:create_app"]' in deployment
    assert re.search(r"- name: WEB_DATABASE_URL\n +valueFrom:\n +secretKeyRef: "
                     r"\{name: web-secrets, key: database-url\}", deployment)
    assert "minAvailable: 1" in objects[("PodDisruptionBudget", "web")]
    job = objects[("Job", "web-migrate")]
    assert 'command: ["python", "-m", "services.web.migrate"]' in job
    assert "WEB_DATABASE_URL" in job
    importlib.import_module("services.web.migrate")
    # The Service and the budget pick the pages' pods, not the migrate Job's.
    for kind in ("Service", "PodDisruptionBudget"):
        assert "app.kubernetes.io/component: ui" in objects[(kind, "web")], kind


def test_web_ui_pods_leave_the_service_when_their_session_database_does() -> None:
    """Readiness is /readyz (the session database), liveness /healthz, a preStop
    pause before shutdown, and Prometheus scrapes /metrics, like the services' API pods."""
    deployment = _objects(K8S / "web.yaml")[("Deployment", "web")]
    probes = dict(re.findall(r"(livenessProbe|readinessProbe):\n(?: +.*\n)*? +httpGet: "
                             r"\{path: (\S+), port: http\}", deployment))
    assert probes == {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    # The probe waits longer than /readyz's own 5 s check (services/web/health.py).
    readiness = deployment[deployment.index("readinessProbe:"):]
    timeout = re.search(r"timeoutSeconds: (\d+)", readiness)
    assert timeout and int(timeout.group(1)) > 5
    assert re.search(r'preStop:\n +exec:\n +command: \["sleep", "\d+"\]', deployment)
    for annotation in ('prometheus.io/scrape: "true"', 'prometheus.io/port: "8000"',
                       "prometheus.io/path: /metrics"):
        assert annotation in deployment, annotation
