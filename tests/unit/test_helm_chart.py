"""deploy/helm/capaflow renders the objects deploy/k8s declares.

Uses the real helm that deploy/helm.sh builds into var/tools/bin (deploy/test.sh
runs it first): ``helm lint --strict`` and ``helm template``, the output parsed
as YAML and compared, object by object, with the kustomize manifests read the
way ``kustomize build`` assembles them (the listed resources; its namespace and
label transformers touch metadata only, which is not compared).
"""

import copy
import importlib
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT, unavailable

CHART = ROOT / "deploy" / "helm" / "capaflow"
K8S = ROOT / "deploy" / "k8s"
SETTINGS = {"NONCONFORMITY_": ("services.nonconformity.settings", "NonconformitySettings"),
            "CAPA_": ("services.capa.settings", "CapaSettings"),
            "NOTIFICATIONS_": ("services.notifications.settings", "NotificationsSettings"),
            "WEB_": ("services.web.settings", "WebSettings")}
Objects = dict[tuple[str, str], dict[str, Any]]


@pytest.fixture(scope="module")
def helm() -> str:
    built = ROOT / "var" / "tools" / "bin" / "helm"
    found = str(built) if built.exists() else shutil.which("helm")
    if found is None:
        unavailable("no helm: deploy/helm.sh builds it into var/tools/bin (deploy/test.sh runs it)")
    return found


def _render(helm: str, *settings: str) -> Objects:
    command = [helm, "template", "capaflow", str(CHART), "--namespace", "capaflow",
               "--set", "namespace.create=true"]
    for setting in settings:
        command += ["--set", setting]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return _by_name(yaml.safe_load_all(result.stdout))


def _by_name(documents: Any) -> Objects:
    objects: Objects = {}
    for doc in documents:
        if doc:
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"{key} declared twice"
            objects[key] = doc
    return objects


def _kustomize() -> Objects:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    documents: list[Any] = []
    for resource in kustomization["resources"]:
        documents += yaml.safe_load_all((K8S / resource).read_text())
    return _by_name(documents)


@pytest.fixture(scope="module")
def chart(helm: str) -> Objects:
    return _render(helm)


def test_helm_lint_passes_strict(helm: str) -> None:
    result = subprocess.run([helm, "lint", "--strict", str(CHART)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_chart_makes_the_objects_kustomize_makes(chart: Objects) -> None:
    assert sorted(chart) == sorted(_kustomize())


def _without_checksum(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    template = spec.get("template", {}).get("metadata", {})
    template.get("annotations", {}).pop("checksum/config", None)
    # kustomize adds part-of to pod templates through its label transformer.
    template.get("labels", {}).pop("app.kubernetes.io/part-of", None)
    return spec


@pytest.mark.parametrize("kind", ["Deployment", "Job", "Service", "HorizontalPodAutoscaler",
                                  "PodDisruptionBudget"])
def test_every_spec_is_the_manifests_spec(kind: str, chart: Objects) -> None:
    """Replicas, strategy, probes, grace periods, resources, security, env and
    secret references, volumes: the whole spec, compared as data."""
    manifests = _kustomize()
    names = [name for k, name in manifests if k == kind]
    assert names, kind
    for name in names:
        assert _without_checksum(chart[(kind, name)]["spec"]) == \
            _without_checksum(manifests[(kind, name)]["spec"]), (kind, name)


def test_every_configmap_holds_the_manifests_settings(chart: Objects) -> None:
    for (kind, name), manifest in _kustomize().items():
        if kind == "ConfigMap":
            assert chart[(kind, name)]["data"] == manifest["data"], name
    namespace = chart[("Namespace", "capaflow")]["metadata"]["labels"]
    assert namespace["pod-security.kubernetes.io/enforce"] == "restricted"


def _variables(objects: Objects, pod: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for container in pod["containers"]:
        names |= {e["name"] for e in container.get("env", [])}
        for source in container.get("envFrom", []):
            names |= set(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
    return names


def _assert_settings(names: set[str], where: str) -> None:
    assert names, where
    prefixes = {name.split("_", 1)[0] + "_" for name in names}
    assert len(prefixes) == 1, (where, prefixes)  # one service per pod
    module, cls = SETTINGS[prefixes.pop()]
    fields = getattr(importlib.import_module(module), cls).model_fields
    for name in names:
        # extra="ignore": a misspelt variable would be dropped without a word.
        assert name.split("_", 1)[1].lower() in fields, (where, name)


def test_every_variable_a_pod_gets_is_a_setting_of_its_service(chart: Objects) -> None:
    pods = {key: obj["spec"]["template"]["spec"] for key, obj in chart.items()
            if key[0] in ("Deployment", "Job")}
    assert len(pods) == 11  # 3 x (api, worker, migrate) + web + web-migrate
    for key, pod in pods.items():
        _assert_settings(_variables(chart, pod), str(key))


def test_values_reach_the_objects(helm: str) -> None:
    objects = _render(helm, "image.repository=registry.example/capaflow",
                      "image.tag=1.4.2", "services.capa.worker.replicas=5",
                      "web.replicas=3", "kafka.topicPrefix=staging.",
                      "services.nonconformity.secretName=nc-from-vault",
                      "migrationsAsHooks=false")
    images = {c["image"] for (kind, _), obj in objects.items() if kind in ("Deployment", "Job")
              for c in obj["spec"]["template"]["spec"]["containers"]}
    assert images == {"registry.example/capaflow:1.4.2"}
    assert objects[("Deployment", "capa-worker")]["spec"]["replicas"] == 5
    assert objects[("Deployment", "web")]["spec"]["replicas"] == 3
    config = objects[("ConfigMap", "notifications-config")]["data"]
    assert config["NOTIFICATIONS_KAFKA_NAMESPACE"] == "staging."
    _assert_settings({"NOTIFICATIONS_KAFKA_NAMESPACE"}, "topic prefix")
    refs = {e["valueFrom"]["secretKeyRef"]["name"]
            for e in objects[("Deployment", "nonconformity-api")]["spec"]["template"]["spec"]
            ["containers"][0]["env"] if "valueFrom" in e}
    assert refs == {"nc-from-vault"}
    assert all("annotations" not in obj["metadata"]
               for (kind, _), obj in objects.items() if kind == "Job")


def test_migrations_run_before_the_deployments_as_hooks(chart: Objects) -> None:
    jobs = [obj for (kind, _), obj in chart.items() if kind == "Job"]
    assert len(jobs) == 4
    for job in jobs:
        assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"


def test_a_changed_setting_rolls_the_pods(helm: str, chart: Objects) -> None:
    changed = _render(helm, "services.capa.config.LOG_LEVEL=DEBUG")

    def checksum(objects: Objects, name: str) -> str:
        return str(objects[("Deployment", name)]["spec"]["template"]["metadata"]
                   ["annotations"]["checksum/config"])

    assert checksum(changed, "capa-api") != checksum(chart, "capa-api")
    assert checksum(changed, "capa-worker") != checksum(chart, "capa-worker")
    moved = _render(helm, "kafka.bootstrapServers=kafka.other:9092")
    assert checksum(moved, "capa-api") != checksum(chart, "capa-api")
    assert checksum(changed, "nonconformity-api") == checksum(chart, "nonconformity-api")


def test_helm_sh_pins_a_version_and_skips_a_present_build() -> None:
    script = (ROOT / "deploy" / "helm.sh").read_text()
    assert 'HELM_VERSION="${HELM_VERSION:-v3.' in script
    assert "go install" in script and "var/tools/bin" in script
    assert "deploy/helm.sh" in (ROOT / "deploy" / "test.sh").read_text()
    assert Path(ROOT / "deploy" / "helm.sh").stat().st_mode & 0o111


def test_oidc_values_reach_every_service_and_the_ui(helm: str, chart: Objects) -> None:
    # Off by default: no OIDC variable anywhere, the UI reads no client secret.
    assert not any("OIDC" in key for (kind, _), obj in chart.items() if kind == "ConfigMap"
                   for key in obj["data"])
    objects = _render(helm, "oidc.issuer=https://sso.example/realms/capaflow",
                      "oidc.roleMap=capa-managers=manager",
                      "oidc.redirectUrl=https://capa.example/sign-in/oidc/callback")
    for name in ("nonconformity", "capa", "notifications", "web"):
        prefix = name.upper() + "_"
        data = objects[("ConfigMap", f"{name}-config")]["data"]
        oidc = {key for key in data if key.startswith(prefix + "OIDC_")}
        assert data[prefix + "OIDC_ISSUER"] == "https://sso.example/realms/capaflow"
        assert data[prefix + "OIDC_ROLE_MAP"] == "capa-managers=manager"
        _assert_settings(oidc, f"{name}'s OIDC settings")
    web = objects[("ConfigMap", "web-config")]["data"]
    assert web["WEB_OIDC_CLIENT_ID"] == "capaflow-web"
    assert web["WEB_OIDC_REDIRECT_URL"] == "https://capa.example/sign-in/oidc/callback"
    env = objects[("Deployment", "web")]["spec"]["template"]["spec"]["containers"][0]["env"]
    secret = next(e for e in env if e["name"] == "WEB_OIDC_CLIENT_SECRET")
    assert secret["valueFrom"]["secretKeyRef"] == {"name": "web-secrets",
                                                   "key": "oidc-client-secret"}
    _assert_settings({e["name"] for e in env}, "the UI's secret variables")
