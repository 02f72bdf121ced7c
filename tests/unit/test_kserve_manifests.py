"""deploy/kserve/*.yaml: generated from docs/reports/bench.md (committed files must be what the generator writes), sized
from it, lint-clean, and — in the kserve SDK's own virtualenv — loadable into the SDK's model classes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tools.bench_figures import capacity
from tools.kserve_manifests import MODEL_FORMAT, OUTPUT, RUNTIME, write_manifests

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
KSERVE_PYTHON = ROOT / "build" / "kserve-venv" / "bin" / "python"


def manifest(name: str) -> dict:
    return yaml.safe_load((OUTPUT / name).read_text())


def test_committed_manifests_are_what_the_generator_writes(tmp_path):
    written = write_manifests(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in OUTPUT.glob("*.yaml"))
    for path in written:
        assert path.read_text() == (OUTPUT / path.name).read_text(), f"run `make kserve-bundle`: {path.name} is stale"


def test_pods_get_the_bench_servers_cpus_and_scale_on_its_saturation_concurrency():
    fit = capacity()
    for name, protocol in [("inferenceservice-v1.yaml", "v1"), ("inferenceservice-v2.yaml", "v2")]:
        predictor = manifest(name)["spec"]["predictor"]
        assert (predictor["scaleMetric"], predictor["scaleTarget"]) == ("concurrency", fit.knee_concurrency)
        model = predictor["model"]
        assert model["protocolVersion"] == protocol
        assert (model["runtime"], model["modelFormat"]["name"]) == (RUNTIME, MODEL_FORMAT)
        assert model["resources"]["requests"] == model["resources"]["limits"]
        assert model["resources"]["requests"]["cpu"] == str(fit.cores)


def test_the_runtime_starts_torchserve_from_the_bundle_with_no_service_envelope():
    container = manifest("servingruntime.yaml")["spec"]["containers"][0]
    assert "--model-store=/mnt/models/model-store" in container["args"]
    assert "--ts-config=/mnt/models/config/config.properties" in container["args"]
    assert "--ncs" in container["args"]  # no config snapshots written
    # TS_SERVICE_ENVELOPE would wrap our handler in TorchServe's envelope
    assert not [variable for variable in container["env"] if variable["name"].startswith("TS_")]
    assert manifest("servingruntime.yaml")["spec"]["supportedModelFormats"][0]["name"] != "pytorch"


def test_the_canary_sends_a_share_of_traffic_to_a_new_bundle():
    stable = manifest("inferenceservice-v1.yaml")["spec"]["predictor"]
    canary = manifest("inferenceservice-canary.yaml")["spec"]["predictor"]
    assert canary["canaryTrafficPercent"] == 10
    assert canary["model"]["storageUri"] != stable["model"]["storageUri"]
    assert (
        manifest("inferenceservice-canary.yaml")["metadata"]["name"]
        == manifest("inferenceservice-v1.yaml")["metadata"]["name"]
    )


def test_prometheus_scrapes_torchserves_metrics_port():
    annotations = manifest("inferenceservice-v1.yaml")["metadata"]["annotations"]
    assert annotations["serving.kserve.io/enable-prometheus-scraping"] == "true"
    assert annotations["prometheus.kserve.io/port"] == annotations["prometheus.io/port"] == "8082"


@pytest.fixture(scope="module")
def kserve_python() -> Path:
    """build/kserve-venv (`make kserve-validate` creates it; CI runs that first)."""
    if not KSERVE_PYTHON.is_file():
        if os.environ.get("CI"):
            pytest.fail("build/kserve-venv is missing: CI must run `make kserve-validate` before `make test`")
        pytest.skip("no build/kserve-venv: run `make kserve-validate`")
    return KSERVE_PYTHON


def validate(python: Path, *paths: Path) -> subprocess.CompletedProcess:
    command = [str(python), str(ROOT / "tools" / "kserve_validate.py"), *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_every_manifest_loads_into_the_kserve_sdks_model_classes(kserve_python):
    result = validate(kserve_python, *sorted(OUTPUT.glob("*.yaml")))
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("scaleTarget:", "scaleTargets:"), "V1beta1PredictorSpec has no field(s) scaleTargets"),
        (("cpu: '2'", "cpu: 2"), "limits.cpu: expected str, got int"),
        (("kind: InferenceService", "kind: InferenceServices"), "unexpected apiVersion/kind"),
    ],
)
def test_the_sdk_validation_names_a_wrong_field_or_type(kserve_python, tmp_path, change, problem):
    broken = tmp_path / "broken.yaml"
    broken.write_text((OUTPUT / "inferenceservice-v1.yaml").read_text().replace(*change))
    result = validate(kserve_python, broken)
    assert result.returncode == 1
    assert problem in result.stderr


# --- the restricted Pod Security Standard, checked offline ------------------------------------------------------
# https://kubernetes.io/docs/concepts/security/pod-security-standards/ (v1.30): the baseline and restricted
# controls a manifest can break. A pod of ours is the ServingRuntime's containers and volumes with an
# InferenceService predictor's pod-level fields (KServe merges the two).
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected",
                      "secret"}  # fmt: skip
SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}


SELINUX_TYPES = (None, "", "container_t", "container_init_t", "container_kvm_t", "container_engine_t")
CONTAINER_CONTROLS = {
    # control broken -> test on (the container's securityContext, the effective value of a field)
    "privileged": lambda own, effective: own.get("privileged"),
    "allowPrivilegeEscalation is not false": lambda own, effective: own.get("allowPrivilegeEscalation") is not False,
    "runAsNonRoot is not true": lambda own, effective: effective("runAsNonRoot") is not True,
    "runs as uid 0": lambda own, effective: effective("runAsUser") == 0,
    "seccompProfile is not RuntimeDefault or Localhost": lambda own, effective: (
        (effective("seccompProfile") or {}).get("type") not in SECCOMP_ALLOWED
    ),
    "capabilities do not drop ALL": lambda own, effective: "ALL" not in own.get("capabilities", {}).get("drop", []),
    "adds capabilities beyond NET_BIND_SERVICE": lambda own, effective: bool(
        set(own.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}
    ),
    "procMount is not Default": lambda own, effective: own.get("procMount", "Default") != "Default",
    "seLinuxOptions.type is not allowed": lambda own, effective: (
        own.get("seLinuxOptions", {}).get("type") not in SELINUX_TYPES
    ),
    "AppArmor is unconfined": lambda own, effective: (effective("appArmorProfile") or {}).get("type") == "Unconfined",
}


def restricted_violations(pod: dict, containers: list[dict], volumes: list[dict]) -> list[str]:
    """Every restricted-profile control the pod breaks, by name."""
    problems = [f"{field} is set" for field in ("hostNetwork", "hostPID", "hostIPC") if pod.get(field)]
    pod_context = pod.get("securityContext", {})
    if pod_context.get("sysctls"):
        problems.append("pod sysctls are set")
    for volume in volumes:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']} is of type {sorted(kinds)}")
    for container in containers:
        problems += [f"{container['name']}: {problem}" for problem in _container_violations(container, pod_context)]
    return problems


def _container_violations(container: dict, pod_context: dict) -> list[str]:
    own = container.get("securityContext", {})

    def effective(field: str):
        return own.get(field, pod_context.get(field))

    problems = [control for control, broken in CONTAINER_CONTROLS.items() if broken(own, effective)]
    if any(port.get("hostPort") for port in container.get("ports", [])):
        problems.append("uses a hostPort")
    return problems


def predictor_pods() -> list[tuple[str, dict, list[dict], list[dict]]]:
    runtime = manifest("servingruntime.yaml")["spec"]
    pods = []
    for path in sorted(OUTPUT.glob("inferenceservice-*.yaml")):
        predictor = manifest(path.name)["spec"]["predictor"]
        volumes = runtime.get("volumes", []) + predictor.get("volumes", [])
        pods.append((path.name, predictor, runtime["containers"], volumes))
    return pods


@pytest.mark.parametrize(("name", "pod", "containers", "volumes"), predictor_pods())
def test_every_predictor_pod_meets_the_restricted_pod_security_standard(name, pod, containers, volumes):
    assert restricted_violations(pod, containers, volumes) == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"allowPrivilegeEscalation": True}, "allowPrivilegeEscalation is not false"),
        ({"capabilities": {"drop": ["NET_RAW"]}}, "capabilities do not drop ALL"),
        ({"seccompProfile": {"type": "Unconfined"}}, "seccompProfile"),
        ({"runAsUser": 0}, "runs as uid 0"),
        ({"runAsNonRoot": False}, "runAsNonRoot is not true"),
    ],
)
def test_the_pod_security_check_finds_each_broken_control(change, problem):
    _, pod, containers, volumes = predictor_pods()[0]
    broken = [{**containers[0], "securityContext": {**containers[0]["securityContext"], **change}}]
    assert any(problem in found for found in restricted_violations(pod, broken, volumes))
    assert any("hostPath" in found for found in restricted_violations(pod, containers, [{"name": "h", "hostPath": {}}]))


def test_the_root_filesystem_is_read_only_with_empty_dirs_for_temp_files_and_logs():
    container = manifest("servingruntime.yaml")["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    volumes = {volume["name"]: volume for volume in manifest("servingruntime.yaml")["spec"]["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in container["volumeMounts"]}
    env = {variable["name"]: variable["value"] for variable in container["env"]}
    for path in ("/tmp", env["LOG_LOCATION"], env["HOME"]):
        assert "emptyDir" in mounts[path]


def test_predictors_run_as_their_own_service_account_without_an_api_token():
    account = manifest("serviceaccount.yaml")
    assert account["automountServiceAccountToken"] is False
    for path in sorted(OUTPUT.glob("inferenceservice-*.yaml")):
        predictor = manifest(path.name)["spec"]["predictor"]
        assert predictor["serviceAccountName"] == account["metadata"]["name"]
        assert predictor["automountServiceAccountToken"] is False


def test_the_network_policy_covers_every_service_and_admits_only_named_namespaces():
    policy = manifest("networkpolicy.yaml")["spec"]
    [selector] = policy["podSelector"]["matchExpressions"]
    services = {manifest(path.name)["metadata"]["name"] for path in OUTPUT.glob("inferenceservice-*.yaml")}
    assert (selector["key"], set(selector["values"])) == ("serving.kserve.io/inferenceservice", services)
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert all(rule["from"] and rule["ports"] for rule in policy["ingress"])  # no rule open to every source
    assert sorted(port["port"] for rule in policy["egress"] for port in rule["ports"]) == [53, 53, 443]
