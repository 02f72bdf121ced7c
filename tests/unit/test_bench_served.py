"""bench.served: summarising repeated load runs, and where each repetition starts."""

from __future__ import annotations

from collections import Counter

import pytest

from bench.load import LoadResult
from bench.processes import CpuSample, RequestCost, request_cost, sample
from bench.records import ServerStats
from bench.served import rotate, summarise

pytestmark = pytest.mark.unit


def test_summarise_takes_medians_and_sums_errors():
    runs = [
        (LoadResult(4, requests=10, texts=10, seconds=1.0, latencies=[0.1] * 10, errors=Counter({"503": 1})),
         ServerStats(texts_per_batch=4.0), RequestCost(0.3, [0.5, 0.6], 0.2)),
        (LoadResult(4, requests=30, texts=30, seconds=1.0, latencies=[0.2] * 30), ServerStats(texts_per_batch=8.0),
         None),
        (LoadResult(4, requests=20, texts=20, seconds=1.0, latencies=[0.3] * 20, errors=Counter({"503": 2})),
         ServerStats(texts_per_batch=6.0, padding=1.5), RequestCost(0.5, [0.7, 0.8, 0.9], 0.4)),
    ]  # fmt: skip
    point = summarise(runs)
    assert point.texts_per_second == 20.0
    assert point.texts_per_second_runs == [10.0, 30.0, 20.0]
    assert point.p50 == pytest.approx(0.2)
    assert (point.errors, point.error_kinds, point.requests) == (3, {"503": 3}, 60)
    assert point.server.texts_per_batch == 6.0
    assert point.server.padding == 1.5  # the median of the runs that had it
    assert point.server.model_busy is None
    assert point.cost == RequestCost(0.4, [0.6, 0.7], 0.30000000000000004)  # workers as many as every run had


def test_request_cost_divides_each_process_cpu_by_the_requests_answered_and_skips_new_workers():
    before = CpuSample(frontend=1.0, workers={11: 2.0, 12: 3.0}, client=0.5)
    after = CpuSample(frontend=1.3, workers={11: 2.6, 12: 3.4, 13: 9.0}, client=0.7)
    cost = request_cost(before, after, 1000)
    assert cost.frontend_ms == pytest.approx(0.3)
    assert cost.workers_ms == pytest.approx([0.6, 0.4])  # worker 13 started during the run: not counted
    assert cost.client_ms == pytest.approx(0.2)
    assert cost.server_ms == pytest.approx(1.3)
    assert request_cost(before, after, 0) is None


def test_a_sample_of_this_process_tree_finds_workers_by_their_command_line():
    """A child whose command line names TorchServe's worker script is a worker; this process is the client."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "model_service_worker.py"])
    try:
        import os

        found = sample(os.getpid())
        assert child.pid in found.workers
        assert found.client > 0
    finally:
        child.kill()
        child.wait()


def test_each_repetition_starts_elsewhere_and_keeps_every_payload():
    assert rotate([1, 2, 3], 0) == [1, 2, 3]
    assert rotate(list(range(1000)), 1)[0] != 0
    assert sorted(rotate(list(range(1000)), 1)) == list(range(1000))
