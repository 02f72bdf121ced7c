"""Predictions through the real TorchServe: shapes, order, batching across clients, equality with in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bert_classifier.model import TextClassifier
from bert_classifier.settings import read_settings
from tests.integration.batches import send_in_one_batch
from tests.integration.conftest import served_variant

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Shares in the bank rose 5% after profits beat forecasts.",
    "The striker scored twice as the champions won 3-1 away from home.",
    "A new smartphone chip promises longer battery life and faster graphics. " * 20,
    "Parliament voted on the bill late on Tuesday.",
    "Ticket sales for the film broke box office records.",
]


@pytest.fixture(scope="module")
def in_process(tiny_bert_dir, server):
    """The same model and handler settings, called directly: what the server must reproduce. The engine and
    precision are the ones the server's probe chose (`engine: auto`)."""
    handler_settings = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]
    chosen = handler_settings | served_variant(server, "tiny")
    return TextClassifier.load(tiny_bert_dir, read_settings(chosen, env={}))


def expected(in_process, texts):
    scores, _ = in_process.classify(texts)
    return [max(range(len(s.scores)), key=s.scores.__getitem__) for s in scores], [s.scores for s in scores]


def test_single_text_gets_one_object_with_label_id_and_score(predict, in_process):
    response = predict(json={"text": TEXTS[0]})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"label", "label_id", "score", "truncated"}
    label_ids, scores = expected(in_process, TEXTS[:1])
    assert body["label_id"] == label_ids[0]
    assert body["label"] == in_process.labels[label_ids[0]]
    assert body["score"] == pytest.approx(max(scores[0]), abs=1e-5)


def test_many_texts_in_one_request_come_back_in_order_with_in_process_probabilities(predict, in_process):
    response = predict(json={"data": TEXTS, "parameters": {"return_all_scores": True}})
    assert response.status_code == 200
    results = response.json()
    assert len(results) == len(TEXTS)
    _, scores = expected(in_process, TEXTS)
    for result, reference in zip(results, scores, strict=True):
        served = {entry["label_id"]: entry["score"] for entry in result["scores"]}
        assert served == pytest.approx(dict(enumerate(reference)), abs=1e-5)


def test_data_body_sent_as_bytes_like_curl_upload_is_accepted(predict):
    response = predict(b'{"data": ["one text", "another text"]}', headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200
    assert len(response.json()) == 2


def test_plain_text_and_form_field_bodies_are_one_text(predict, in_process):
    label_ids, _ = expected(in_process, TEXTS[1:2])
    plain = predict(TEXTS[1].encode(), headers={"Content-Type": "text/plain"})
    form = predict({"text": TEXTS[1]})  # what `curl -d 'text=...'` sends
    assert plain.status_code == form.status_code == 200
    assert plain.json()["label_id"] == form.json()["label_id"] == label_ids[0]


def test_concurrent_requests_batched_together_each_get_their_own_answer(server, predict, in_process):
    requests_texts = [[f"{TEXTS[i % len(TEXTS)]} Request number {i}."] * (1 + i % 3) for i in range(8)]
    sends = [lambda texts=texts: predict(json={"data": texts}) for texts in requests_texts]
    responses, batch = send_in_one_batch(server, sends)
    assert (batch.requests, batch.texts) == (8, sum(map(len, requests_texts)))
    for texts, response in zip(requests_texts, responses, strict=True):
        assert response.status_code == 200
        results = response.json()
        assert len(results) == len(texts)
        _, scores = expected(in_process, texts)
        assert [r["score"] for r in results] == pytest.approx([max(s) for s in scores], abs=1e-5)


def test_a_bad_request_does_not_fail_the_requests_batched_with_it(server, predict):
    bodies = [
        ({"data": ["fine text"]}, 200),
        ({"data": [1, 2]}, 400),
        ({"text": ""}, 400),
        ({"data": ["ok"]}, 200),
    ]
    responses, batch = send_in_one_batch(server, [lambda body=body: predict(json=body) for body, _ in bodies])
    assert (batch.requests, batch.errors) == (4, 2)
    assert [r.status_code for r in responses] == [status for _, status in bodies]
    assert all(len(r.json()) == 1 for r in responses if r.status_code == 200)
    errors = [r.json() for r in responses if r.status_code != 200]
    assert all(set(e) == {"code", "type", "message"} and e["type"] == "InvalidInput" for e in errors)
    assert predict(json={"text": "still serving"}).status_code == 200
