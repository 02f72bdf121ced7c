"""`tools.kserve_bundle` without building an archive: the snapshot and the handler settings the bundle ships."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bert_classifier.settings import read_settings
from tools.kserve_bundle import bundle_model_config, bundle_properties, model_snapshot, parse_args, read_properties

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = yaml.safe_load((ROOT / "model-config.yaml").read_text())


def test_the_bundle_has_explanations_off_unless_asked():
    assert parse_args([]).explanations == "off"
    config = bundle_model_config(SHIPPED, "off")
    assert read_settings(config["handler"], env={}).explanations == "off"
    assert list(model_snapshot(config, "news", "1.0")["models"]) == ["news"]


def test_own_pool_registers_an_explain_pool_of_one_worker_next_to_the_prediction_pool():
    config = bundle_model_config(SHIPPED, "own_pool")
    snapshot = model_snapshot(config, "news", "1.0", "own_pool")

    assert read_settings(config["handler"], env={}).explanations == "own_pool"
    assert snapshot["modelCount"] == 2
    prediction, explanation = snapshot["models"]["news"]["1.0"], snapshot["models"]["news_explain"]["1.0"]
    assert explanation["marName"] == prediction["marName"] == "news.mar"
    assert (explanation["minWorkers"], explanation["maxWorkers"], explanation["batchSize"]) == (1, 1, 1)
    assert prediction["maxWorkers"] == SHIPPED["maxWorkers"]
    assert "explanations" not in SHIPPED.get("handler", {})  # the shipped file itself is not changed


def test_shared_explains_on_the_one_pool():
    config = bundle_model_config(SHIPPED, "shared")
    assert read_settings(config["handler"], env={}).explanations == "shared"
    assert list(model_snapshot(config, "news", "1.0", "shared")["models"]) == ["news"]


def test_the_bundles_jvm_has_the_projects_heap_limit_and_exits_on_out_of_memory():
    project = read_properties(ROOT / "config.properties")
    vmargs = properties_of(bundle_properties(project, model_snapshot(SHIPPED, "news", "1.0")))["vmargs"].split()
    assert project["vmargs"].split() == vmargs[: len(project["vmargs"].split())]
    assert {"-Xmx1g", "-XX:+ExitOnOutOfMemoryError"} <= set(vmargs)


def properties_of(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="explanations must be one of"):
        bundle_model_config(SHIPPED, "on")
