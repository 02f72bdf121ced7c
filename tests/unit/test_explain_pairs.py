"""Explanations of text pairs: the words of both texts, each with offsets into its own text, attributions that
add up, and the score predictions give the pair (token types included)."""

from __future__ import annotations

import json

import pytest

from bert_classifier.messages import Request
from bert_classifier.service import InferenceService
from bert_classifier.settings import Settings
from tests.conftest import save_tiny_bert

pytestmark = pytest.mark.unit

TEXT = "Markets rallied after strong earnings."
PAIR = "Chip makers reported record profits."
SETTINGS = Settings(precision="fp32", explain_steps=16, max_explained_tokens=12, explanations="shared")


@pytest.fixture(scope="module", params=[("business", "sport", "tech"), ("LABEL_0",)], ids=["3-labels", "one-logit"])
def service(tmp_path_factory, request) -> InferenceService:
    model_dir = save_tiny_bert(tmp_path_factory.mktemp("pair-bert"), labels=request.param, initializer_range=0.2)
    return InferenceService.load(model_dir, SETTINGS)


def answer(service, document, explain: bool) -> dict:
    request = Request(json.dumps(document).encode(), "application/json", explain=explain)
    response = service.handle(request)
    assert response.status == 200, response.body
    return json.loads(response.body)


def test_a_pair_explanation_has_the_words_of_both_texts_with_offsets_into_each(service):
    result = answer(service, {"text": TEXT, "text_pair": PAIR}, explain=True)
    texts = {"text": TEXT, "text_pair": PAIR}
    words = result["words"]
    assert {word["part"] for word in words} == {"text", "text_pair"}
    assert [texts[w["part"]][w["start"] : w["end"]] for w in words] == [w["word"] for w in words]
    first = [w["word"] for w in words if w["part"] == "text"]
    second = [w["word"] for w in words if w["part"] == "text_pair"]
    assert words == sorted(words, key=lambda w: w["part"] != "text")  # the text's words, then the pair's
    assert len(first) + len(second) == 12 - 3  # max_explained_tokens less [CLS] and two [SEP]: truncated
    assert result["truncated"] is True
    total = sum(word["attribution"] for word in words)
    assert total - (result["log_score"] - result["baseline_log_score"]) == pytest.approx(
        result["convergence_delta"], abs=1e-4
    )
    assert any(abs(word["attribution"]) > 1e-4 for word in words)  # a one-logit model explains its sigmoid


def test_a_pair_explanation_scores_the_pair_as_predictions_do(service):
    short = {"text": "Markets rallied.", "text_pair": "Profits rose."}
    explained = answer(service, short, explain=True)
    predicted = answer(service, short, explain=False)
    assert explained["truncated"] is False
    assert explained["score"] == pytest.approx(predicted["score"], abs=1e-5)
    assert explained["label"] == predicted["label"]


def test_single_text_explanations_have_no_part(service):
    result = answer(service, {"text": TEXT}, explain=True)
    assert all("part" not in word for word in result["words"])
