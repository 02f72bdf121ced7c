"""The handler's own metrics for one batch, independent of any model server's metrics API.

Every name here is declared in the project's `metrics.yaml` so TorchServe exposes it on /metrics (Prometheus).
Counters add up across batches (rates and ratios come from them); gauges hold the last batch's value.
"""

from __future__ import annotations

from dataclasses import dataclass

from .service import BatchOutcome

COUNTER = "counter"
GAUGE = "gauge"


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    kind: str
    unit: str = "Count"
    error_type: str | None = None


def batch_metrics(requests: int, outcome: BatchOutcome) -> list[Metric]:
    """The metrics one batch contributes; per-request errors come out once per error type."""
    stats = outcome.stats
    metrics = [
        Metric("bert_batches_total", 1, COUNTER),
        Metric("bert_requests_total", requests, COUNTER),
        Metric("bert_texts_total", stats.texts, COUNTER),
        Metric("bert_tokens_total", stats.real_tokens, COUNTER),
        Metric("bert_padded_tokens_total", stats.padded_tokens, COUNTER),
        Metric("bert_truncated_texts_total", stats.truncated, COUNTER),
        Metric("bert_tokenize_milliseconds_total", stats.tokenize_seconds * 1000, COUNTER, "ms"),
        Metric("bert_model_milliseconds_total", stats.model_seconds * 1000, COUNTER, "ms"),
        Metric("bert_batch_requests", requests, GAUGE),
        Metric("bert_batch_texts", stats.texts, GAUGE),
        Metric("bert_batch_tokens", stats.padded_tokens, GAUGE),
        Metric("bert_padding_ratio", stats.padding_ratio, GAUGE, "Ratio"),
        Metric("bert_explained_texts_total", outcome.explained_texts, COUNTER),
        Metric("bert_explain_milliseconds_total", outcome.explain_seconds * 1000, COUNTER, "ms"),
    ]
    metrics += [
        Metric("bert_request_errors_total", count, COUNTER, error_type=error_type)
        for error_type, count in sorted(outcome.errors.items())
    ]
    return metrics
