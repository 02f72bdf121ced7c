"""The handler's own metrics for one batch, independent of any model server's metrics API.

Every name here is declared in the project's `metrics.yaml` so TorchServe exposes it on /metrics (Prometheus).
Counters add up across batches (rates and ratios come from them); gauges hold the last batch's value.

Each metric handed to TorchServe is a line on the worker's stdout that the frontend parses: at a few hundred
batches a second those lines cost more CPU than the decoding and encoding of the requests, so `MetricsBuffer`
adds the batches up and hands them on at most once per interval.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .messages import BatchOutcome

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
        Metric("bert_text_pairs_total", stats.pairs, COUNTER),
        Metric("bert_reranked_documents_total", outcome.ranked, COUNTER),
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


class MetricsBuffer:
    """Adds up batches' metrics (counters summed per name and error type, gauges: the last value) and releases them
    at most once per `interval` seconds; the first batch after a quiet interval is released at once."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._pending: dict[tuple[str, str | None], Metric] = {}
        self._released_at: float | None = None

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def add(self, metrics: Iterable[Metric], now: float) -> list[Metric]:
        """Take one batch's metrics; return what is due now (nothing while an interval is running)."""
        for metric in metrics:
            key = (metric.name, metric.error_type)
            held = self._pending.get(key)
            summed = held is not None and metric.kind == COUNTER
            self._pending[key] = replace(metric, value=held.value + metric.value) if summed else metric
        if self._released_at is None or now - self._released_at >= self.interval:
            return self.release(now)
        return []

    def release(self, now: float) -> list[Metric]:
        """Everything held, and start a new interval."""
        released, self._pending, self._released_at = list(self._pending.values()), {}, now
        return released
