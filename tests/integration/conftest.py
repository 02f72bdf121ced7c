"""Fixtures that build real .mar archives and start the real TorchServe (Java frontend + Python workers)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import requests
import yaml

from tools.archive import build_archive
from tools.management_client import ManagementClient, wait_ready
from tools.server import EVERY_BATCH_LOGGED, LocalTorchServe

ROOT = Path(__file__).resolve().parents[2]
TRAINED_MODEL = ROOT / "artifacts"
READY_TIMEOUT = 240
EXPLANATIONS_SHARED = {"BERT_CLASSIFIER_EXPLANATIONS": "shared"}
"""For servers whose tests explain on the prediction workers (explanations are off unless turned on)."""


def archive(
    model_dir: Path,
    store: Path,
    name: str,
    version: str = "1.0",
    config: Path | None = None,
    engines_dir: Path | None = None,
) -> Path:
    """Build `<store>/<name>.mar` with the project's archive tool (the same path `make archive` takes); with
    `engines_dir` (ONNX files and engines.json, `tools.archive.build_engines`) packed in too."""
    return build_archive(
        model_dir=model_dir,
        model_name=name,
        version=version,
        config_file=config or ROOT / "model-config.yaml",
        export_path=store,
        engines_dir=engines_dir,
    )


def served_variant(server: LocalTorchServe, model: str) -> dict[str, str]:
    """The engine and precision the model's workers logged at start (`engine: auto` chose them by a probe), as
    settings for an in-process classifier that must answer the same. Fails if the workers disagree."""
    found = set(re.findall(rf"W-\d+-{model}_[\d.]+-stdout MODEL_LOG - loaded model .* engine=(\w+) dtype=(\w+)",
                           server.model_log()))  # fmt: skip
    assert len(found) == 1, f"workers of {model} logged {found or 'no engine'}"
    engine, precision = found.pop()
    return {"engine": engine, "precision": precision}


def start_server(store: Path, models: str, **kwargs) -> LocalTorchServe:
    """A started TorchServe with every model of `models` ready; its workers log every batch (the tests' proof of
    which requests shared one)."""
    kwargs["env"] = EVERY_BATCH_LOGGED | kwargs.get("env", {})
    server = LocalTorchServe(model_store=store, **kwargs).start(models)
    try:
        client = ManagementClient(server.management_url)
        for model in models.split(","):
            name = model.split("=")[0]
            wait_ready(client, name, inference_url=server.inference_url, timeout=READY_TIMEOUT)
    except BaseException:
        print(server.all_logs()[-5000:])
        server.stop()
        raise
    return server


SERVINGS = {
    "shipped": "tiny.mar",
    "one-worker-batching": "tiny_batching.mar",
}
"""How the contract tests serve `tiny`: with the shipped model-config.yaml (2 workers, batchSize 8, maxBatchDelay
5 ms), and with one worker that waits 50 ms to fill a batch of 8, so that concurrent requests share a batch."""
BATCHING = {"minWorkers": 1, "maxWorkers": 1, "batchSize": 8, "maxBatchDelay": 50}


@pytest.fixture(scope="session")
def model_store(tmp_path_factory, tiny_bert_dir) -> Path:
    """A model store with the tiny random BERT archived twice: `tiny.mar` with the shipped model-config.yaml and
    `tiny_batching.mar` with the `BATCHING` worker settings (handler settings as shipped)."""
    store = tmp_path_factory.mktemp("model-store")
    archive(tiny_bert_dir, store, "tiny")
    config = store.parent / "tiny-batching-model-config.yaml"
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    config.write_text(yaml.safe_dump(shipped | BATCHING, sort_keys=False))
    archive(tiny_bert_dir, store, "tiny_batching", config=config)
    return store


@pytest.fixture(scope="session", params=list(SERVINGS))
def server(request, model_store):
    """A TorchServe serving `tiny` from the project's config.properties, on free ports: once per `SERVINGS`
    entry (a test picks one with `@pytest.mark.parametrize("server", [...], indirect=True)`)."""
    instance = start_server(model_store, f"tiny={SERVINGS[request.param]}")
    yield instance
    instance.stop()
    instance.cleanup()


@pytest.fixture
def predict(server):
    """POST to /predictions/tiny; returns the `requests.Response`."""

    def post(body=None, *, json=None, headers=None, path="tiny"):
        return requests.post(
            f"{server.inference_url}/predictions/{path}", data=body, json=json, headers=headers or {}, timeout=60
        )

    return post


@pytest.fixture(scope="session")
def trained_model_dir() -> Path:
    """The trained default model; `make test` builds it first (`make model`) when artifacts/ has none."""
    if not (TRAINED_MODEL / "model.safetensors").is_file():
        pytest.fail("artifacts/ has no trained model: run `make model` (or `make test`, which builds it)")
    return TRAINED_MODEL


@pytest.fixture(scope="session")
def trained_engines(trained_model_dir, tmp_path_factory) -> Path:
    """The trained default model's ONNX export (fp32, int8) and `engines.json`, the accuracy gate measured on the
    held-out split, as `make archive` builds them: once per session (a minute or two)."""
    from tools.archive import build_engines

    engines = tmp_path_factory.mktemp("trained-engines")
    build_engines(trained_model_dir, engines, ROOT / "model-config.yaml")
    return engines


@pytest.fixture(scope="session")
def trained_onnx_store(trained_model_dir, trained_engines, tmp_path_factory) -> Path:
    """A model store holding `bert.mar`: the trained default model archived as `make archive` archives it, with
    `trained_engines` and the shipped model-config.yaml."""
    store = tmp_path_factory.mktemp("trained-onnx-store")
    archive(trained_model_dir, store, "bert", engines_dir=trained_engines)
    return store


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
