"""The trained default model (`make model`) served by the real TorchServe: real news it never saw in training,
through a torch-only archive and through `make archive`'s archive (ONNX fp32 + int8, accuracy gate measured)."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests
import yaml

from bert_classifier.model import TextClassifier
from bert_classifier.settings import read_settings
from tests.integration.conftest import EXPLANATIONS_SHARED, ROOT, archive, served_variant, start_server
from tools.accuracy_gate import MAX_LOSS_POINTS
from training.corpus import read_article

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def held_out(trained_model_dir):
    split = json.loads((trained_model_dir / "split.json").read_text())
    return [(item["label"], read_article(item["path"])) for item in split["test"]]


@pytest.fixture(scope="module")
def served(trained_model_dir, tmp_path_factory):
    store = tmp_path_factory.mktemp("trained-store")
    archive(trained_model_dir, store, "bert_news_classification")
    started = time.monotonic()
    server = start_server(store, "bert_news_classification=bert_news_classification.mar", env=EXPLANATIONS_SHARED)
    print(f"\nstart-to-ready of the default archive: {time.monotonic() - started:.1f}s")
    yield server
    server.stop()
    server.cleanup()


def classify(server, texts: list[str], model: str = "bert_news_classification") -> list[dict]:
    url = f"{server.inference_url}/predictions/{model}"
    results = []
    for start in range(0, len(texts), 32):
        response = requests.post(url, json={"data": texts[start : start + 32]}, timeout=300)
        assert response.status_code == 200, response.text
        results += response.json()
    return results


def held_out_accuracy(server, held_out, model: str = "bert_news_classification") -> float:
    predictions = classify(server, [text for _, text in held_out], model)
    correct = sum(p["label"] == label for (label, _), p in zip(held_out, predictions, strict=True))
    print(f"served held-out accuracy of {served_variant(server, model)}: {correct}/{len(held_out)}")
    return correct / len(held_out)


@pytest.fixture(scope="module")
def served_accuracy(served, held_out) -> float:
    return held_out_accuracy(served, held_out)


INT8 = {"BERT_CLASSIFIER_ENGINE": "onnxruntime", "BERT_CLASSIFIER_PRECISION": "int8"}


@pytest.fixture(scope="module")
def shipped_int8(trained_onnx_store, trained_engines):
    """`make archive`'s archive (ONNX fp32 + int8 exported, the accuracy gate measured on the held-out set, as
    `tools.archive` builds it) served by TorchServe with int8 forced, the variant `engine: auto` chose in the
    benchmark; with the gate's record."""
    record = json.loads((trained_engines / "engines.json").read_text())
    server = start_server(trained_onnx_store, "shipped=bert.mar", env=INT8)
    yield server, {row["variant"]: row for row in record["variants"]}
    server.stop()
    server.cleanup()


def test_held_out_bbc_articles_get_the_right_topic_through_the_server(served_accuracy):
    assert served_accuracy >= 0.95


def test_the_served_precision_keeps_the_accuracy_bound_against_fp32(served, served_accuracy, trained_model_dir):
    """docs/models.md "The default model": what the shipped `engine: auto`, `precision: auto` serve (the start-up
    probe's choice among the variants the accuracy gate allows) stays within `MAX_LOSS_POINTS` of fp32's held-out
    accuracy. fp32's is the training run's, measured through the same serving
    core and handler settings (training_metrics.json), which must hold the bound for bf16 too."""
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]
    serving = json.loads((trained_model_dir / "training_metrics.json").read_text())["serving"]
    assert (serving["max_length"], serving["long_text"]) == (shipped["max_length"], shipped["long_text"])
    measured = {result["precision"]: 100 * result["accuracy"] for result in serving["results"]}
    for precision, accuracy in measured.items():
        assert accuracy >= measured["fp32"] - MAX_LOSS_POINTS, f"{precision} in the training run"
    dtype = re.search(r"dtype=(\w+)", served.model_log())
    assert 100 * served_accuracy >= measured["fp32"] - MAX_LOSS_POINTS, f"served as {dtype and dtype[1]}"


def test_the_shipped_archives_int8_keeps_the_accuracy_bound_through_the_server(shipped_int8, held_out):
    """README "Performance": the served variants' held-out accuracy is within `MAX_LOSS_POINTS` of fp32 on the
    334 held-out articles; here ONNX Runtime int8 from `make archive`'s archive, measured through TorchServe (its
    batches, not the gate's), against the gate's torch fp32."""
    server, gate = shipped_int8
    assert served_variant(server, "shipped") == {"engine": "onnxruntime", "precision": "int8"}
    assert gate["onnxruntime-int8"]["eligible"], gate["onnxruntime-int8"]["reason"]

    accuracy = held_out_accuracy(server, held_out, "shipped")

    fp32, int8_in_process = gate["torch-fp32"]["accuracy"], gate["onnxruntime-int8"]["accuracy"]
    print(f"held-out accuracy: served int8 {accuracy:.2%}, gate int8 {int8_in_process:.2%}, gate fp32 {fp32:.2%}")
    assert len(held_out) == 334
    assert 100 * accuracy >= 100 * fp32 - MAX_LOSS_POINTS


def test_served_probabilities_equal_the_in_process_model(served, held_out, trained_model_dir):
    handler_settings = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]
    model = TextClassifier.load(trained_model_dir, read_settings(handler_settings, env={}))
    texts = [text for _, text in held_out[:10]] + ["Chelsea won the league after a 2-0 win at Bolton."]
    url = f"{served.inference_url}/predictions/bert_news_classification"
    response = requests.post(url, json={"data": texts, "parameters": {"return_all_scores": True}}, timeout=300)
    scores, _ = model.classify(texts)
    for result, reference in zip(response.json(), scores, strict=True):
        served_scores = {entry["label_id"]: entry["score"] for entry in result["scores"]}
        assert served_scores == pytest.approx(dict(enumerate(reference.scores)), abs=1e-4)


def test_short_fresh_headlines_get_the_obvious_topic(served):
    headlines = {
        "Chelsea won the league after a 2-0 win at Bolton, with Lampard scoring twice.": "sport",
        "The central bank raised interest rates as inflation and the trade deficit grew.": "business",
        "The prime minister faces a vote in parliament on the new immigration bill.": "politics",
        "The new smartphone's processor and software update improve battery life.": "tech",
        "The film won best picture at the Oscars and its lead actress took home a Bafta.": "entertainment",
    }
    predictions = classify(served, list(headlines))
    assert [p["label"] for p in predictions] == list(headlines.values())


def test_a_fresh_headline_is_explained_through_the_server_and_its_words_add_up(served):
    text = "The prime minister faces a vote in parliament on the new immigration bill."
    url = f"{served.inference_url}/explanations/bert_news_classification"

    response = requests.post(url, json={"text": text}, timeout=300)

    assert response.status_code == 200, response.text
    result = response.json()
    assert result["label"] == result["predicted_label"] == "politics"
    assert [text[word["start"] : word["end"]] for word in result["words"]] == [word["word"] for word in result["words"]]
    difference = result["log_score"] - result["baseline_log_score"]
    total = sum(word["attribution"] for word in result["words"])
    assert total == pytest.approx(difference + result["convergence_delta"], abs=1e-3)
    assert abs(result["convergence_delta"]) < 0.05 * abs(difference)
    print("\n" + ", ".join(f"{w['word']} {w['attribution']:+.3f}" for w in result["words"]))
