"""`MetricsBuffer`: batches' metrics added up and handed to the model server at most once per interval."""

from __future__ import annotations

import pytest

from bert_classifier.metrics import COUNTER, GAUGE, Metric, MetricsBuffer

pytestmark = pytest.mark.unit


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
