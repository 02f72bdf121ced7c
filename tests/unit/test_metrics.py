"""`batch_metrics` (what one batch contributes, declared in metrics.yaml with its kind) and `MetricsBuffer`
(batches' metrics added up and handed to the model server at most once per interval)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import yaml

from bert_classifier.messages import BatchOutcome
from bert_classifier.metrics import COUNTER, GAUGE, Metric, MetricsBuffer, batch_metrics
from bert_classifier.model import BatchStats

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
STATS = BatchStats(
    texts=5, pairs=3, real_tokens=40, padded_tokens=50, truncated=1, tokenize_seconds=0.002, model_seconds=0.03
)


def test_a_batch_contributes_its_counts_and_one_error_counter_per_error_type():
    outcome = BatchOutcome([], STATS, Counter({"InvalidInput": 2, "PayloadTooLarge": 1}), 2, 1.5, ranked=2)
    metrics = {(m.name, m.error_type): m for m in batch_metrics(4, outcome)}

    counts = {name: metric.value for (name, error_type), metric in metrics.items() if error_type is None}
    assert counts == {
        "bert_batches_total": 1,
        "bert_requests_total": 4,
        "bert_texts_total": 5,
        "bert_text_pairs_total": 3,
        "bert_reranked_documents_total": 2,
        "bert_tokens_total": 40,
        "bert_padded_tokens_total": 50,
        "bert_truncated_texts_total": 1,
        "bert_tokenize_milliseconds_total": pytest.approx(2.0),
        "bert_model_milliseconds_total": pytest.approx(30.0),
        "bert_batch_requests": 4,
        "bert_batch_texts": 5,
        "bert_batch_tokens": 50,
        "bert_padding_ratio": pytest.approx(0.25),
        "bert_explained_texts_total": 2,
        "bert_explain_milliseconds_total": pytest.approx(1500.0),
    }
    errors = {error_type: m.value for (name, error_type), m in metrics.items() if name == "bert_request_errors_total"}
    assert errors == {"InvalidInput": 2, "PayloadTooLarge": 1}


def test_a_batch_without_errors_has_no_error_counter():
    names = [metric.name for metric in batch_metrics(1, BatchOutcome([], STATS))]
    assert "bert_request_errors_total" not in names


def test_every_handler_metric_is_declared_in_the_shipped_metrics_config_with_its_kind():
    """TorchServe exports only declared metrics, and a counter declared as a gauge would lose its meaning."""
    declared = yaml.safe_load((ROOT / "metrics.yaml").read_text())["model_metrics"]
    kinds = {entry["name"]: kind for kind, entries in declared.items() for entry in entries}
    outcome = BatchOutcome([], STATS, Counter({"InvalidInput": 1}))
    for metric in batch_metrics(1, outcome):
        assert kinds.get(metric.name) == {COUNTER: "counter", GAUGE: "gauge"}[metric.kind], metric.name


def batch(texts: int, padding: float, errors: int = 0) -> list[Metric]:
    metrics = [Metric("bert_texts_total", texts, COUNTER), Metric("bert_padding_ratio", padding, GAUGE, "Ratio")]
    if errors:
        metrics.append(Metric("bert_request_errors_total", errors, COUNTER, error_type="InvalidInput"))
    return metrics


def values(metrics: list[Metric]) -> dict:
    return {(m.name, m.error_type): m.value for m in metrics}


def test_the_first_batch_is_handed_on_at_once():
    buffer = MetricsBuffer(1.0)
    assert values(buffer.add(batch(3, 0.5), now=10.0)) == {
        ("bert_texts_total", None): 3,
        ("bert_padding_ratio", None): 0.5,
    }
    assert not buffer.pending


def test_within_an_interval_counters_add_up_and_gauges_keep_the_last_value():
    buffer = MetricsBuffer(1.0)
    buffer.add(batch(1, 0.1), now=10.0)
    assert buffer.add(batch(2, 0.2, errors=1), now=10.3) == []
    assert buffer.add(batch(4, 0.4, errors=2), now=10.6) == []
    assert buffer.pending
    assert values(buffer.add(batch(8, 0.8), now=11.0)) == {
        ("bert_texts_total", None): 14,
        ("bert_padding_ratio", None): 0.8,
        ("bert_request_errors_total", "InvalidInput"): 3,
    }


def test_release_hands_on_what_is_held_and_starts_a_new_interval():
    buffer = MetricsBuffer(1.0)
    buffer.add(batch(1, 0.1), now=10.0)
    buffer.add(batch(2, 0.2), now=10.5)
    assert values(buffer.release(now=11.0))[("bert_texts_total", None)] == 2
    assert buffer.add(batch(5, 0.5), now=11.5) == []  # the interval started at the release
    assert buffer.release(now=11.6)[0].value == 5
