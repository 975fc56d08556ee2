"""deploy/ and the Containerfile: what an operator applies, checked offline.

Every Kustomize overlay is rendered with `kubectl kustomize` and each object validated against
the Kubernetes API schemas (`kubernetes-validate`, strict: unknown fields are errors). The
Prometheus Operator's kinds (ServiceMonitor, PrometheusRule) have no schema there: the
PrometheusRule is checked against the alert file it is rendered from, the ServiceMonitor
against the Service it must select.
"""

from __future__ import annotations

import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.http import probes
from app.settings import ConfigurationError, Environment, load_settings

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
OVERLAYS = ["development", "production"]
# The Kubernetes release whose API schemas the manifests must satisfy.
KUBERNETES_VERSION = "1.31"
OPERATOR_KINDS = {"ServiceMonitor", "PrometheusRule"}
SECRET_NAME = "litemaas-bff"


def _render(overlay: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render the overlays (.ci/run installs it)")
    result = subprocess.run(  # noqa: S603  (kubectl on our own files)
        [kubectl, "kustomize", str(DEPLOY / "kubernetes" / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind]
    return found


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, _render(request.param)


def test_every_object_of_every_overlay_is_valid_kubernetes(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    _, objects = overlay
    kinds = sorted(o["kind"] for o in objects)

    for obj in objects:
        if obj["kind"] not in OPERATOR_KINDS:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Job",
            "NetworkPolicy",
            "PodDisruptionBudget",
            "PrometheusRule",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    )


def test_the_validation_refuses_an_invalid_object(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    deployment = _one(overlay[1], "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 3}}

    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _pod_specs(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o["spec"]["template"]["spec"] for o in objects if o["kind"] in ("Deployment", "Job")]


def test_every_container_runs_unprivileged_on_a_read_only_root_filesystem(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    for pod in _pod_specs(overlay[1]):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        # No fixed user id: OpenShift's restricted SCC assigns one of the namespace's range.
        assert "runAsUser" not in pod["securityContext"]
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts  # noqa: S108  (the one writable place, an emptyDir)


def test_the_probes_are_the_service_s_own(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    [container] = _one(overlay[1], "Deployment")["spec"]["template"]["spec"]["containers"]
    served = {route.path for route in probes.routes}

    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz"} <= served


def test_the_configuration_is_complete_for_production_with_secrets_from_the_secret(
    overlay: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The ConfigMap and the Secret's keys together are a configuration `serve` starts with."""
    objects = overlay[1]
    config = _one(objects, "ConfigMap")
    deployment = _one(objects, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    [config_ref] = container["envFrom"]
    secret_refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e
    }
    # Stand-ins for what the operator puts in the Secret.
    secret_values = {
        "DATABASE_URL": "postgresql://litemaas:a-password@postgresql/litemaas",
        "SESSION_SECRET": "Ke2Wq7V0dZr9tYbA_xL4mNcP8sHf3Gj6oUiE1TlRkS5vBnQwXyM-aZc0D2Fg7hJp",
        "LITELLM_MASTER_KEY": "sk-a-master-key",
        "OIDC_CLIENT_SECRET": "an-oidc-client-secret",
    }
    plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    monkeypatch.chdir(tmp_path)  # no .env
    for name, value in {**config["data"], **plain, **secret_values}.items():
        monkeypatch.setenv(name, value)

    try:
        settings = load_settings(Environment.PRODUCTION)
    except ConfigurationError as error:
        pytest.fail(f"the manifests leave settings missing: {error.problems}")

    assert config_ref["configMapRef"]["name"] == config["metadata"]["name"]
    assert {ref["name"] for ref in secret_refs.values()} == {SECRET_NAME}
    assert {name: ref["key"] for name, ref in secret_refs.items()} == {
        name: name for name in secret_values
    }
    # No secret is in the ConfigMap.
    assert not set(secret_values) & set(config["data"])
    assert settings.host == "0.0.0.0"  # noqa: S104  (inside the pod, behind the Service)


def test_the_migration_job_migrates_the_same_database_before_the_rollout(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    objects = overlay[1]
    job = _one(objects, "Job")
    [migrate] = job["spec"]["template"]["spec"]["containers"]
    [serve] = _one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]

    assert migrate["args"] == ["migrate"]
    assert serve["args"] == ["serve"]
    assert migrate["image"] == serve["image"]
    assert migrate["env"] == [e for e in serve["env"] if e["name"] == "DATABASE_URL"]
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    assert job["metadata"]["labels"]["app.kubernetes.io/component"] == "migration"


def test_the_service_monitor_scrapes_the_service_s_metrics_port(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    objects = overlay[1]
    monitor = _one(objects, "ServiceMonitor")
    service = _one(objects, "Service")
    deployment = _one(objects, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]

    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [
        p["name"] for p in service["spec"]["ports"]
    ]
    assert monitor["spec"]["endpoints"][0]["path"] == "/metrics"


def test_the_autoscaler_and_the_disruption_budget_keep_a_replica_serving(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    name, objects = overlay
    hpa = _one(objects, "HorizontalPodAutoscaler")
    pdb = _one(objects, "PodDisruptionBudget")
    deployment = _one(objects, "Deployment")

    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    if name == "production":
        assert hpa["spec"]["minReplicas"] >= 3
        assert deployment["spec"]["replicas"] >= 3


def _renderer() -> Any:
    return runpy.run_path(str(DEPLOY / "kubernetes" / "render_prometheus_rule.py"))["render"]


def test_the_prometheus_rule_is_rendered_from_the_current_alert_file() -> None:
    alerts = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    committed = (DEPLOY / "kubernetes" / "base" / "prometheusrule.yaml").read_text()

    assert committed == _renderer()(alerts), "run `make manifests` and commit the result"
    assert yaml.safe_load(committed)["spec"]["groups"] == yaml.safe_load(alerts)["groups"]


def test_every_overlay_carries_the_alert_file_s_rules(
    overlay: tuple[str, list[dict[str, Any]]],
) -> None:
    rule = _one(overlay[1], "PrometheusRule")
    alerts = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())

    assert rule["spec"]["groups"] == alerts["groups"]
    assert all(r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"])


def test_the_containerfile_is_clean_under_hadolint() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(  # noqa: S603  (the linter installed from requirements.lock)
        [str(hadolint), "--failure-threshold", "info", str(ROOT / "Containerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert (result.returncode, result.stdout) == (0, "")


def test_the_image_serves_production_as_a_non_root_user_with_a_healthcheck() -> None:
    lines = (ROOT / "Containerfile").read_text().splitlines()
    final_stage = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM ")) :]
    instructions = {line.split()[0] for line in final_stage if line and line[0].isupper()}

    assert sum(line.startswith("FROM ") for line in lines) >= 2  # multi-stage
    assert "USER 10001" in final_stage
    assert 'ENTRYPOINT ["litemaas-bff"]' in final_stage
    assert 'CMD ["serve"]' in final_stage
    assert "HEALTHCHECK" in instructions
