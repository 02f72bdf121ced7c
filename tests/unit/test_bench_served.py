"""bench.served: summarising repeated load runs, and where each repetition starts."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.load import LoadResult
from bench.records import ServerStats
from bench.served import rotate, summarise

pytestmark = pytest.mark.unit


def test_summarise_takes_medians_and_sums_errors():
    runs = [
        (LoadResult(4, requests=10, texts=10, seconds=1.0, latencies=[0.1] * 10, errors=Counter({"503": 1})),
         ServerStats(texts_per_batch=4.0)),
        (LoadResult(4, requests=30, texts=30, seconds=1.0, latencies=[0.2] * 30), ServerStats(texts_per_batch=8.0)),
        (LoadResult(4, requests=20, texts=20, seconds=1.0, latencies=[0.3] * 20, errors=Counter({"503": 2})),
         ServerStats(texts_per_batch=6.0, padding=1.5)),
    ]  # fmt: skip
    point = summarise(runs)
    assert point.texts_per_second == 20.0
    assert point.texts_per_second_runs == [10.0, 30.0, 20.0]
    assert point.p50 == pytest.approx(0.2)
    assert (point.errors, point.error_kinds, point.requests) == (3, {"503": 3}, 60)
    assert point.server.texts_per_batch == 6.0
    assert point.server.padding == 1.5  # the median of the runs that had it
    assert point.server.model_busy is None


def test_each_repetition_starts_elsewhere_and_keeps_every_payload():
    assert rotate([1, 2, 3], 0) == [1, 2, 3]
    assert rotate(list(range(1000)), 1)[0] != 0
    assert sorted(rotate(list(range(1000)), 1)) == list(range(1000))
