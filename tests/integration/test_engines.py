"""An ONNX archive (the tiny model, `make archive`'s layout) through the real TorchServe: `engine: auto` probes
once for the model's workers and serves what it chose; a fixed `onnxruntime`/`int8` archive serves int8."""

from __future__ import annotations

import re

import pytest
import requests
import yaml

from bert_classifier.model import TextClassifier
from bert_classifier.settings import read_settings
from tests.integration.conftest import EXPLANATIONS_SHARED, ROOT, archive, served_variant, start_server

pytestmark = pytest.mark.integration

TEXTS = ["Shares in the bank rose 5% after profits beat forecasts.", "The striker scored twice.", "word " * 300]


def config(folder, name: str, **handler) -> object:
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    shipped["handler"] |= handler
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(shipped | {"minWorkers": 2, "maxWorkers": 2}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def onnx_server(tmp_path_factory, tiny_bert_dir, tiny_engines_dir):
    store = tmp_path_factory.mktemp("onnx-store")
    archive(tiny_bert_dir, store, "auto", config=config(store.parent, "auto"), engines_dir=tiny_engines_dir)
    int8 = config(store.parent, "int8", engine="onnxruntime", precision="int8")
    archive(tiny_bert_dir, store, "int8", config=int8, engines_dir=tiny_engines_dir)
    server = start_server(store, "auto=auto.mar,int8=int8.mar", env=EXPLANATIONS_SHARED)
    yield server
    server.stop()
    server.cleanup()


def served_scores(server, model: str) -> list[list[float]]:
    url = f"{server.inference_url}/predictions/{model}"
    response = requests.post(url, json={"data": TEXTS, "parameters": {"return_all_scores": True}}, timeout=60)
    assert response.status_code == 200, response.text
    return [[entry["score"] for entry in sorted(r["scores"], key=lambda e: e["label_id"])] for r in response.json()]


def in_process_scores(model_dir, **variant) -> list[list[float]]:
    handler = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]
    classifier = TextClassifier.load(model_dir, read_settings(handler | variant, env={}))
    return [list(s.scores) for s in classifier.classify(TEXTS)[0]]


def test_one_worker_probes_the_other_reuses_its_choice_and_both_log_it(onnx_server):
    lines = re.findall(r"W-\d+-auto_1\.0-stdout MODEL_LOG - (loaded model .*)", onnx_server.model_log())
    assert len(lines) == 2
    probed = [line for line in lines if "chosen by probe (" in line]
    assert len(probed) == 1
    assert len([line for line in lines if "chosen by this host's recorded probe (" in line]) == 1
    assert "best rounds on 8 short / 1 short / 1 long:" in probed[0]  # the archive's batchSize 8
    for name in ("torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"):
        assert re.search(rf"{name} \d\.\d\d = [\d.]+/[\d.]+/[\d.]+ ms", probed[0]), probed[0]
    assert "cpu=" in probed[0]


def test_auto_answers_as_the_chosen_variant_does_in_process(onnx_server, tiny_onnx_model_dir):
    chosen = served_variant(onnx_server, "auto")
    for served, expected in zip(served_scores(onnx_server, "auto"), in_process_scores(tiny_onnx_model_dir, **chosen),
                                strict=True):  # fmt: skip
        assert served == pytest.approx(expected, abs=1e-5)


def test_a_fixed_int8_archive_serves_onnx_runtime_int8(onnx_server, tiny_onnx_model_dir):
    assert served_variant(onnx_server, "int8") == {"engine": "onnxruntime", "precision": "int8"}
    int8 = in_process_scores(tiny_onnx_model_dir, engine="onnxruntime", precision="int8")
    fp32 = in_process_scores(tiny_onnx_model_dir, engine="torch", precision="fp32")
    for served, expected, reference in zip(served_scores(onnx_server, "int8"), int8, fp32, strict=True):
        assert served == pytest.approx(expected, abs=1e-5)
        assert served == pytest.approx(reference, abs=0.02)


def test_an_onnx_served_model_is_explained_with_the_archives_torch_weights_in_fp32(onnx_server, tiny_bert_dir):
    """ONNX Runtime gives no gradients: the int8 archive's explanations load its torch weights
    (docs/explanations.md), so the explained score is the fp32 torch model's."""
    response = requests.post(f"{onnx_server.inference_url}/explanations/int8", json={"text": TEXTS[0]}, timeout=120)

    assert response.status_code == 200, response.text
    result = response.json()
    reference = in_process_scores(tiny_bert_dir, engine="torch", precision="fp32")[0]
    assert result["score"] == pytest.approx(reference[result["label_id"]], abs=1e-5)
    assert result["words"][0]["word"] == "Shares"
