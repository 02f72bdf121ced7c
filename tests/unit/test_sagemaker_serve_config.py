"""`sagemaker_serving` (serve): environment -> `ServeConfig` -> TorchServe config.properties and per-model settings."""

from __future__ import annotations

import json
import re
import stat
import zipfile
from pathlib import Path

import pytest
import yaml

from bert_classifier.errors import InvalidArtifacts
from sagemaker_serving.environment import (
    DEFAULT_INTERNAL_PORTS,
    MIB,
    ConfigError,
    read_config,
    with_private_work_dir,
)
from sagemaker_serving.model_store import apply_model_settings, prepare_model
from sagemaker_serving.serve import main
from sagemaker_serving.torchserve_config import (
    LOG_CONFIG,
    TS_CONFIG,
    torchserve_command,
    torchserve_environment,
    torchserve_properties,
)

pytestmark = pytest.mark.unit

FULL_ENV = {
    "TMPDIR": "/scratch",
    "SM_OPT_ML": "/data/opt-ml",
    "SM_BIND_HOST": "127.0.0.1",
    "SAGEMAKER_BIND_TO_PORT": "9090",
    "SAGEMAKER_SAFE_PORT_RANGE": "9000-9100",
    "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
    "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
    "SAGEMAKER_TS_BATCH_SIZE": "8",
    "SAGEMAKER_TS_MAX_BATCH_DELAY": "20",
    "SAGEMAKER_MAX_PAYLOAD_IN_MB": "10",
}


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_without_environment_serves_on_all_interfaces_port_8080_with_6_mib_bodies():
    config = read_config({"TMPDIR": "/scratch"})
    assert (config.bind_host, config.port) == ("0.0.0.0", 8080)
    assert config.model_dir == Path("/opt/ml/model")
    assert config.work_dir == Path("/scratch")  # serve makes its private work folder in here
    assert config.internal_ports == DEFAULT_INTERNAL_PORTS
    assert config.max_request_bytes == 6 * MIB
    assert config.model_settings() == {}


def test_sagemaker_variables_become_per_model_settings():
    config = read_config(FULL_ENV)
    assert config.model_settings() == {
        "minWorkers": 3,
        "maxWorkers": 3,
        "responseTimeout": 120,
        "batchSize": 8,
        "maxBatchDelay": 20,
    }
    assert config.model_dir == Path("/data/opt-ml/model")


def test_public_port_is_the_only_non_loopback_listener_and_apis_are_locked_down():
    written = properties(torchserve_properties(read_config(FULL_ENV)))
    assert written["inference_address"] == "http://127.0.0.1:9090"
    assert written["management_address"] == "http://127.0.0.1:9000"
    assert written["metrics_address"] == "http://127.0.0.1:9001"
    assert written["grpc_inference_address"] == written["grpc_management_address"] == "127.0.0.1"
    assert (written["grpc_inference_port"], written["grpc_management_port"]) == ("9002", "9003")
    assert written["enable_model_api"] == "false"
    assert written["disable_token_authorization"] == "true"

    default = properties(torchserve_properties(read_config({})))
    assert default["inference_address"] == "http://0.0.0.0:8080"
    assert default["management_address"] == "http://127.0.0.1:8081"


def test_the_frontend_jvm_has_a_heap_limit_and_exits_on_out_of_memory():
    vmargs = properties(TS_CONFIG.read_text())["vmargs"].split()
    assert "-XX:+ExitOnOutOfMemoryError" in vmargs
    assert [arg for arg in vmargs if re.fullmatch(r"-Xmx\d+[mMgG]", arg)] == ["-Xmx1g"]
    assert {"-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"} <= set(vmargs)  # tuned separately, kept


def test_the_image_runs_the_jvm_and_log_settings_make_serve_uses():
    config = read_config(FULL_ENV)
    shipped = properties(TS_CONFIG.read_text())
    assert properties(torchserve_properties(config))["vmargs"] == shipped["vmargs"]
    command = torchserve_command(config, Path("/scratch/config.properties"))
    assert command[command.index("--log-config") + 1] == str(LOG_CONFIG)
    assert LOG_CONFIG.is_file()


def test_max_payload_in_mb_sets_max_request_size_in_mib_and_responses_may_be_larger():
    written = properties(torchserve_properties(read_config({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "10"})))
    assert int(written["max_request_size"]) == 10 * 1024 * 1024
    assert int(written["max_response_size"]) > int(written["max_request_size"])

    largest = properties(torchserve_properties(read_config({"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1024"})))
    assert int(largest["max_response_size"]) <= 2**31 - 1  # a Java int


def test_safe_port_range_skips_the_public_port():
    config = read_config({"SAGEMAKER_BIND_TO_PORT": "9001", "SAGEMAKER_SAFE_PORT_RANGE": "9000 - 9010"})
    assert config.internal_ports == (9000, 9002, 9003, 9004)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SAGEMAKER_BIND_TO_PORT", "http"),
        ("SAGEMAKER_BIND_TO_PORT", "70000"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "0"),
        ("SAGEMAKER_MODEL_SERVER_WORKERS", "two"),
        ("SAGEMAKER_MODEL_SERVER_TIMEOUT", "-5"),
        ("SAGEMAKER_TS_BATCH_SIZE", "1.5"),
        ("SAGEMAKER_TS_MAX_BATCH_DELAY", "-1"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "0"),
        ("SAGEMAKER_MAX_PAYLOAD_IN_MB", "5000"),
        ("SAGEMAKER_SAFE_PORT_RANGE", "9000"),
        ("SAGEMAKER_SAFE_PORT_RANGE", "9000-9002"),
        ("SAGEMAKER_SAFE_PORT_RANGE", "0-3"),
    ],
)
def test_unusable_values_are_refused_naming_the_variable(name, value):
    with pytest.raises(ConfigError, match=name):
        read_config({name: value})


def test_empty_variables_count_as_unset():
    config = read_config({"SAGEMAKER_MODEL_SERVER_WORKERS": "", "SAGEMAKER_BIND_TO_PORT": " "})
    assert config.workers is None
    assert config.port == 8080


def test_torchserve_gets_private_temp_and_log_folders_and_no_pythonpath(tmp_path):
    config = with_private_work_dir(read_config({"TMPDIR": str(tmp_path)}))
    env = torchserve_environment(config, {"PYTHONPATH": "/opt/bert-serving/handlers", "BERT_CLASSIFIER_TOP_K": "2"})
    assert "PYTHONPATH" not in env
    assert env["BERT_CLASSIFIER_TOP_K"] == "2"
    assert env["TMPDIR"] == env["TEMP"] == str(config.work_dir / "tmp")
    assert env["LOG_LOCATION"] == str(config.work_dir / "logs")
    assert config.work_dir.parent == tmp_path


def write_archive_folder(folder: Path, manifest_model: dict, model_config: dict | None) -> Path:
    (folder / "MAR-INF").mkdir(parents=True)
    manifest = {"runtime": "python", "model": {"modelName": "x", "handler": "h.py", **manifest_model}}
    (folder / "MAR-INF" / "MANIFEST.json").write_text(json.dumps(manifest))
    if model_config is not None:
        (folder / manifest_model.get("configFile", "model-config.yaml")).write_text(yaml.safe_dump(model_config))
    return folder


def test_environment_settings_override_the_archives_model_config_and_keep_the_rest(tmp_path):
    folder = write_archive_folder(
        tmp_path / "model",
        {"configFile": "mc.yaml"},
        {"batchSize": 16, "minWorkers": 1, "maxWorkers": 1, "handler": {"top_k": 2}},
    )
    apply_model_settings(folder, {"batchSize": 4, "minWorkers": 2, "maxWorkers": 2})
    merged = yaml.safe_load((folder / "mc.yaml").read_text())
    assert merged == {"batchSize": 4, "minWorkers": 2, "maxWorkers": 2, "handler": {"top_k": 2}}


def test_an_archive_without_model_config_gets_one_named_in_its_manifest(tmp_path):
    folder = write_archive_folder(tmp_path / "model", {}, None)
    apply_model_settings(folder, {"batchSize": 4})
    manifest = json.loads((folder / "MAR-INF" / "MANIFEST.json").read_text())
    assert manifest["model"]["configFile"] == "model-config.yaml"
    assert yaml.safe_load((folder / "model-config.yaml").read_text()) == {"batchSize": 4}


def make_mar(path: Path, model_config: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as mar:
        manifest = {"runtime": "python", "model": {"modelName": "m", "handler": "h.py", "configFile": "mc.yaml"}}
        mar.writestr("MAR-INF/MANIFEST.json", json.dumps(manifest))
        mar.writestr("mc.yaml", yaml.safe_dump(model_config))
        mar.writestr("h.py", "")
    return path


def test_a_mar_in_opt_ml_model_is_unpacked_into_a_fresh_store_with_the_settings(tmp_path):
    make_mar(tmp_path / "opt-ml" / "model" / "classifier.mar", {"batchSize": 16})
    config = read_config(
        {"TMPDIR": str(tmp_path), "SM_OPT_ML": str(tmp_path / "opt-ml"), "SAGEMAKER_TS_BATCH_SIZE": "2"}
    )
    config.model_store.mkdir(parents=True)
    (config.model_store / "stale.mar").write_text("from an earlier start")

    target = prepare_model(config)

    assert target == config.model_store / "model"
    assert sorted(path.name for path in config.model_store.iterdir()) == ["model"]
    assert (target / "h.py").is_file()
    assert yaml.safe_load((target / "mc.yaml").read_text()) == {"batchSize": 2}


def test_two_mars_are_refused(tmp_path):
    for name in ("a.mar", "b.mar"):
        make_mar(tmp_path / "opt-ml" / "model" / name, {})
    config = read_config({"TMPDIR": str(tmp_path), "SM_OPT_ML": str(tmp_path / "opt-ml")})
    with pytest.raises(ConfigError, match=r"2 \.mar files"):
        prepare_model(config)


def test_a_corrupt_mar_or_a_folder_without_a_model_is_refused_before_torchserve_starts(tmp_path):
    model_dir = tmp_path / "opt-ml" / "model"
    model_dir.mkdir(parents=True)
    config = read_config({"TMPDIR": str(tmp_path), "SM_OPT_ML": str(tmp_path / "opt-ml")})
    with pytest.raises(InvalidArtifacts, match=r"config\.json is missing"):
        prepare_model(config)
    (model_dir / "broken.mar").write_bytes(b"not a zip")
    with pytest.raises(InvalidArtifacts, match="not a zip"):
        prepare_model(config)


def test_missing_model_folder_exits_2_without_starting_torchserve(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("SM_OPT_ML", str(tmp_path / "nothing-here"))
    monkeypatch.setattr("signal.signal", lambda *args: None)  # keep pytest's own handlers
    assert main(["serve"]) == 2
    assert not list(tmp_path.rglob("config.properties"))


def test_train_is_refused_with_usage(capsys):
    assert main(["train"]) == 2
    assert "does not train" in capsys.readouterr().err


def test_the_work_folder_is_private_and_unpredictable_not_a_fixed_name_in_tmp(tmp_path):
    # Another local user can create a fixed-name folder first and fill it (a model store, a config): ours must
    # never be that folder, nor the same twice.
    planted = tmp_path / "bert-serving"
    planted.mkdir(mode=0o777)
    config = read_config({"TMPDIR": str(tmp_path)})
    first, second = with_private_work_dir(config), with_private_work_dir(config)
    assert first.work_dir != second.work_dir
    for work in (first, second):
        assert work.work_dir.parent == tmp_path
        assert work.work_dir != planted
        assert work.work_dir.name.startswith("bs-")
        assert stat.S_IMODE(work.work_dir.stat().st_mode) == 0o700
        assert work.model_store.parent == work.work_dir
