"""`format_result`: the result object a client receives for one text."""

from __future__ import annotations

import pytest

from bert_classifier.results import TextScores, format_result

pytestmark = pytest.mark.unit

LABELS = ("business", "sport", "tech")
SCORES = TextScores(scores=(0.2, 0.7, 0.1), truncated=False)


def test_top1_has_label_label_id_score_and_truncated_only():
    result = format_result(SCORES, LABELS)

    assert result == {"label": "sport", "label_id": 1, "score": 0.7, "truncated": False}


@pytest.mark.parametrize("truncated", [True, False])
def test_truncated_flag_is_passed_through(truncated):
    assert format_result(TextScores((0.5, 0.3, 0.2), truncated), LABELS)["truncated"] is truncated


def test_top_k_lists_the_best_labels_best_first():
    result = format_result(SCORES, LABELS, top_k=2)

    assert result["scores"] == [
        {"label": "sport", "label_id": 1, "score": 0.7},
        {"label": "business", "label_id": 0, "score": 0.2},
    ]
    assert result["label"] == "sport"  # the top-1 fields are still there


def test_top_k_is_clamped_to_the_number_of_labels():
    result = format_result(SCORES, LABELS, top_k=10)

    assert [entry["label_id"] for entry in result["scores"]] == [1, 0, 2]


def test_top_k_of_one_adds_no_scores_list():
    assert "scores" not in format_result(SCORES, LABELS, top_k=1)


def test_all_scores_lists_every_label_regardless_of_top_k():
    result = format_result(SCORES, LABELS, top_k=1, all_scores=True)

    assert [entry["label"] for entry in result["scores"]] == ["sport", "business", "tech"]
    assert sorted(entry["score"] for entry in result["scores"]) == [0.1, 0.2, 0.7]


def test_equal_scores_rank_the_lower_label_id_first():
    result = format_result(TextScores((0.25, 0.5, 0.25), False), LABELS, all_scores=True)

    assert [entry["label_id"] for entry in result["scores"]] == [1, 0, 2]


def test_best_label_is_the_argmax_wherever_it_is():
    assert format_result(TextScores((0.1, 0.2, 0.7), False), LABELS)["label"] == "tech"
    assert format_result(TextScores((0.9, 0.05, 0.05), False), LABELS)["label"] == "business"


def test_scores_are_plain_floats_rounded_to_six_decimals():
    result = format_result(TextScores((0.123456789, 0.8765432101, 0.0), False), LABELS, all_scores=True)

    assert result["score"] == 0.876543
    assert type(result["score"]) is float
    assert [entry["score"] for entry in result["scores"]] == [0.876543, 0.123457, 0.0]
    assert all(type(entry["score"]) is float for entry in result["scores"])


def test_multi_label_lists_every_label_at_or_above_the_threshold_best_first():
    scores = TextScores((0.6, 0.9, 0.5), False)

    result = format_result(scores, LABELS, multi_label_threshold=0.6)

    assert result["labels"] == [
        {"label": "sport", "label_id": 1, "score": 0.9},
        {"label": "business", "label_id": 0, "score": 0.6},
    ]
    assert result["label"] == "sport"


def test_multi_label_with_nothing_over_the_threshold_gives_an_empty_list():
    result = format_result(TextScores((0.1, 0.2, 0.3), False), LABELS, multi_label_threshold=0.5)

    assert result["labels"] == []
    assert result["label"] == "tech"  # the best label is still reported


def test_single_label_results_have_no_labels_list():
    assert "labels" not in format_result(SCORES, LABELS, top_k=3, all_scores=True)


def test_multi_label_and_top_k_combine():
    result = format_result(TextScores((0.6, 0.9, 0.7), False), LABELS, top_k=2, multi_label_threshold=0.65)

    assert [entry["label_id"] for entry in result["scores"]] == [1, 2]
    assert [entry["label_id"] for entry in result["labels"]] == [1, 2]


def test_two_label_model():
    result = format_result(TextScores((0.3, 0.7), True), ("negative", "positive"), top_k=5)

    assert result["label"] == "positive"
    assert len(result["scores"]) == 2
    assert result["truncated"] is True
