"""Explanation requests through `InferenceService.handle_batch`: decided per request, each with its own answer,
bounded by the settings' caps with errors that name them."""

from __future__ import annotations

import json
import logging

import pytest

from bert_classifier.explain import Explainer
from bert_classifier.messages import Request
from bert_classifier.metrics import batch_metrics
from bert_classifier.service import InferenceService
from bert_classifier.settings import Settings
from tests.conftest import save_tiny_bert

pytestmark = pytest.mark.unit

TEXT = "Markets rallied after strong earnings from chip makers."
OTHER = "The striker scored twice in the second half."
SETTINGS = Settings(
    precision="fp32",
    explanations="shared",
    explain_steps=8,
    max_texts_per_explanation=2,
    max_explained_texts_per_batch=3,
)


@pytest.fixture(scope="module")
def service(tmp_path_factory) -> InferenceService:
    model_dir = save_tiny_bert(tmp_path_factory.mktemp("sharp-bert"), initializer_range=0.2)
    return InferenceService.load(model_dir, SETTINGS)


def explanation(document, accept: str | None = None) -> Request:
    return Request(json.dumps(document).encode(), "application/json", accept, explain=True)


def prediction(text: str) -> Request:
    return Request(json.dumps({"text": text}).encode(), "application/json")


def answers(service, *requests) -> list[tuple[int, object]]:
    outcome = service.handle_batch(list(requests))
    return [(response.status, json.loads(response.body)) for response in outcome.responses]


def test_an_explanation_names_the_predicted_label_and_every_word_with_its_offsets(service):
    [(status, result)] = answers(service, explanation({"text": TEXT}))
    [(_, predicted)] = answers(service, prediction(TEXT))

    assert status == 200
    assert (result["label"], result["label_id"]) == (predicted["label"], predicted["label_id"])
    assert result["predicted_label"] == predicted["label"]
    assert result["score"] == pytest.approx(predicted["score"], abs=1e-5)
    assert [TEXT[word["start"] : word["end"]] for word in result["words"]] == [word["word"] for word in result["words"]]
    assert " ".join(word["word"] for word in result["words"]).replace(" .", ".") == TEXT
    total = sum(word["attribution"] for word in result["words"])
    difference = result["log_score"] - result["baseline_log_score"]
    assert total - difference == pytest.approx(result["convergence_delta"], abs=1e-4)  # rounding of each word
    assert (result["steps"], result["truncated"]) == (8, False)


def test_the_same_text_gets_the_same_explanation_alone_and_in_a_mixed_batch(service):
    [(_, alone)] = answers(service, explanation({"text": TEXT}))
    mixed = answers(service, prediction(OTHER), explanation({"text": TEXT}), prediction(TEXT))

    assert [status for status, _ in mixed] == [200, 200, 200]
    assert mixed[1][1] == alone
    assert "words" not in mixed[0][1]
    assert "words" not in mixed[2][1]
    assert mixed[2][1]["label"] == alone["predicted_label"]


def test_a_batch_mixing_predictions_and_explanations_answers_each_in_its_request_order(service):
    requests = [explanation({"data": [OTHER]}), prediction(OTHER), explanation({"text": TEXT}), prediction(TEXT)]

    outcome = service.handle_batch(requests)

    bodies = [json.loads(response.body) for response in outcome.responses]
    assert [isinstance(body, list) for body in bodies] == [True, False, False, False]
    assert [("words" in (body[0] if isinstance(body, list) else body)) for body in bodies] == [True, False, True, False]
    assert bodies[0][0]["words"][0]["word"] == "The"
    assert bodies[2]["words"][0]["word"] == "Markets"
    assert outcome.explained_texts == 2
    assert outcome.stats.texts == 2  # the predictions' texts, classified together


def test_target_picks_the_label_explained_by_name_or_id_per_text(service):
    [(status, results)] = answers(service, explanation({"data": [TEXT, TEXT], "parameters": {"target": ["tech", 1]}}))
    [(_, everywhere)] = answers(service, explanation({"text": TEXT, "parameters": {"target": "sport"}}))

    assert status == 200
    assert [result["label"] for result in results] == ["tech", "sport"]
    assert everywhere["label"] == "sport"
    assert results[1]["words"] == everywhere["words"]  # the same question, the same answer
    assert all(result["predicted_label"] == results[0]["predicted_label"] for result in results)


def test_a_null_target_in_the_list_explains_the_predicted_label(service):
    [(_, results)] = answers(service, explanation({"data": [TEXT, OTHER], "parameters": {"target": [None, "tech"]}}))

    assert results[0]["label"] == results[0]["predicted_label"]
    assert results[1]["label"] == "tech"


@pytest.mark.parametrize(
    ("parameters", "status", "names"),
    [
        ({"target": "weather"}, 400, ["'weather'", "business, sport, tech"]),
        ({"target": 3}, 400, ["3", "0-2"]),
        ({"target": ["tech"]}, 400, ["1 labels for 2 texts"]),
        ({"target": {"label": "tech"}}, 400, ["target"]),
        ({"steps": 65}, 400, ["max_explain_steps", "64"]),
        ({"steps": 0}, 400, ["steps"]),
    ],
)
def test_bad_explanation_parameters_are_a_400_that_says_what_is_wrong(service, parameters, status, names):
    [(answered, body)] = answers(service, explanation({"data": [TEXT, OTHER], "parameters": parameters}))

    assert answered == status
    assert all(name in body["message"] for name in names)


def test_steps_asks_for_more_integration_points(service):
    [(_, result)] = answers(service, explanation({"text": TEXT, "parameters": {"steps": 24}}))

    assert result["steps"] == 24


def test_more_texts_than_an_explanation_may_hold_is_a_413_naming_the_cap(service):
    [(status, body)] = answers(service, explanation({"data": [TEXT, OTHER, TEXT]}))

    assert status == 413
    assert "max_texts_per_explanation" in body["message"]
    assert "limit is 2" in body["message"]


def test_explanations_beyond_the_batch_budget_are_a_429_and_the_rest_of_the_batch_is_answered(service):
    requests = [explanation({"data": [TEXT, OTHER]}), prediction(TEXT), explanation({"data": [TEXT, OTHER]})]
    requests.append(explanation({"text": OTHER}))

    outcome = service.handle_batch(requests)

    statuses = [response.status for response in outcome.responses]
    assert statuses == [200, 200, 429, 200]  # 2 texts, then 2 more would pass 3, then 1 more fits
    assert "max_explained_texts_per_batch" in json.loads(outcome.responses[2].body)["message"]
    assert outcome.explained_texts == 3
    assert outcome.errors == {"TooManyRequests": 1}


def test_an_explanation_not_started_by_the_batch_deadline_is_a_503_and_the_rest_of_the_batch_is_answered(
    service, monkeypatch
):
    times = [0.0, 1.0, 99.0]  # the batch starts, the first explanation starts in time, the second does not
    monkeypatch.setattr("bert_classifier.service.time.monotonic", lambda: times.pop(0) if len(times) > 1 else times[0])

    outcome = service.handle_batch([explanation({"text": TEXT}), prediction(TEXT), explanation({"text": OTHER})])

    assert [response.status for response in outcome.responses] == [200, 200, 503]
    assert "batch_deadline_seconds" in json.loads(outcome.responses[2].body)["message"]
    assert outcome.explained_texts == 1
    assert outcome.errors == {"ServiceUnavailable": 1}


def test_explanation_parameters_on_a_prediction_are_a_400(service):
    request = Request(json.dumps({"text": TEXT, "parameters": {"target": "tech"}}).encode(), "application/json")

    [(status, body)] = answers(service, request)

    assert status == 400
    assert "explanations" in body["message"]


def test_a_csv_explanation_request_gets_one_json_line_per_row_and_csv_is_not_acceptable(service):
    csv = Request(f"text\n{TEXT}\n{OTHER}\n".encode(), "text/csv", explain=True)
    refused = Request(f"{TEXT}\n".encode(), "text/csv", "text/csv", explain=True)

    first, second = service.handle_batch([csv, refused]).responses

    assert (first.status, first.content_type) == (200, "application/jsonlines")
    assert [json.loads(line)["words"][0]["word"] for line in first.body.decode().splitlines()] == ["Markets", "The"]
    assert second.status == 406
    assert "explanation" in json.loads(second.body)["message"]


def test_a_fault_while_explaining_is_that_requests_500_and_never_logs_the_text(service, monkeypatch, caplog):
    def broken(self, attributor, text, target, steps):
        raise RuntimeError(f"cannot explain {text}")

    monkeypatch.setattr(Explainer, "_explain", broken)
    with caplog.at_level(logging.INFO):
        outcome = service.handle_batch([explanation({"text": "secret words"}), prediction(TEXT)])

    assert [response.status for response in outcome.responses] == [500, 200]
    assert "secret" not in caplog.text
    assert "RuntimeError" in caplog.text


def test_the_batch_metrics_count_explained_texts_and_their_time(service):
    outcome = service.handle_batch([explanation({"text": TEXT}), prediction(TEXT)])

    metrics = {metric.name: metric.value for metric in batch_metrics(2, outcome)}
    assert metrics["bert_batch_requests"] == 2
    assert metrics["bert_explained_texts_total"] == 1
    assert metrics["bert_explain_milliseconds_total"] > 0
