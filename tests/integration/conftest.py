"""Fixtures that build real .mar archives and start the real TorchServe (Java frontend + Python workers)."""

from __future__ import annotations

import argparse
import os
import re
import shutil
from pathlib import Path

import pytest
import requests
import yaml

from tools.archive import build_archive
from tools.manage import ManagementClient, wait_ready
from tools.server import LocalTorchServe

ROOT = Path(__file__).resolve().parents[2]
TRAINED_MODEL = ROOT / "artifacts"
READY_TIMEOUT = 240


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
    args = argparse.Namespace(
        model_dir=str(model_dir),
        model_name=name,
        version=version,
        config_file=str(config or ROOT / "model-config.yaml"),
        export_path=str(store),
    )
    return build_archive(args, engines_dir)


def served_variant(server: LocalTorchServe, model: str) -> dict[str, str]:
    """The engine and precision the model's workers logged at start (`engine: auto` chose them by a probe), as
    settings for an in-process classifier that must answer the same. Fails if the workers disagree."""
    found = set(re.findall(rf"W-\d+-{model}_[\d.]+-stdout MODEL_LOG - loaded model .* engine=(\w+) dtype=(\w+)",
                           server.model_log()))  # fmt: skip
    assert len(found) == 1, f"workers of {model} logged {found or 'no engine'}"
    engine, precision = found.pop()
    return {"engine": engine, "precision": precision}


def start_server(store: Path, models: str, **kwargs) -> LocalTorchServe:
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


@pytest.fixture(scope="session")
def model_store(tmp_path_factory, tiny_bert_dir) -> Path:
    """A model store with `tiny.mar`: the tiny random BERT with the shipped model-config.yaml, except one worker,
    batchSize 8 and a 50 ms batch delay, so that concurrent test requests reliably share a batch."""
    store = tmp_path_factory.mktemp("model-store")
    config = store.parent / "tiny-model-config.yaml"
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    shipped |= {"minWorkers": 1, "maxWorkers": 1, "batchSize": 8, "maxBatchDelay": 50}
    config.write_text(yaml.safe_dump(shipped, sort_keys=False))
    archive(tiny_bert_dir, store, "tiny", config=config)
    return store


@pytest.fixture(scope="session")
def server(model_store):
    """A TorchServe serving `tiny` from the project's config.properties, on free ports."""
    instance = start_server(model_store, "tiny=tiny.mar")
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
    """The trained default model (`make model`); skipped locally without it, an error in CI."""
    if not (TRAINED_MODEL / "model.safetensors").is_file():
        if os.environ.get("CI"):
            pytest.fail("artifacts/ has no trained model: CI must run `make model` before `make test`")
        pytest.skip("no trained model in artifacts/: run `make model`")
    return TRAINED_MODEL


def copy_model(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
