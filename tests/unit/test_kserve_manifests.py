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
    assert "env" not in container  # TS_SERVICE_ENVELOPE would wrap our handler in TorchServe's envelope
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
