"""bench.ceiling: how a workload is cut into `classify` calls."""

from __future__ import annotations

import pytest

from bench.ceiling import make_batches
from bench.workloads import Workload

pytestmark = pytest.mark.unit


def test_make_batches_covers_every_text_once_in_either_order():
    workload = Workload("mixed", [f"t{i}" for i in range(10)], [False] * 10, tokens=[10 - i for i in range(10)])
    flops = [float(i) for i in range(10)]
    arrival, arrival_flops = make_batches(workload, flops, 4, "arrival")
    assert arrival == [(["t0", "t1", "t2", "t3"], []), (["t4", "t5", "t6", "t7"], []), (["t8", "t9"], [])]
    assert arrival_flops == [6.0, 22.0, 17.0]
    ordered, ordered_flops = make_batches(workload, flops, 4, "sorted")
    assert sorted(text for texts, _ in ordered for text in texts) == sorted(workload.texts)
    assert ordered[0][0] == ["t0", "t1", "t2", "t3"]  # the longest first: the slowest calls start first
    assert set(ordered[-1][0]) == {"t8", "t9"}  # the shortest together
    assert sum(ordered_flops) == sum(flops)
    sample, sample_flops = make_batches(workload, flops, 4, "sorted", sample=6)
    assert sorted(text for texts, _ in sample for text in texts) == [f"t{i}" for i in range(6)]
    assert sum(sample_flops) == sum(flops[:6])
    with pytest.raises(ValueError, match="order"):
        make_batches(workload, flops, 4, "random")


def test_a_pair_workload_keeps_each_text_with_its_second_text():
    workload = Workload("pair", ["q0", "q1", "q2"], [True] * 3, tokens=[5, 9, 7], pairs=["p0", "p1", "p2"])
    batches, _ = make_batches(workload, [1.0, 1.0, 1.0], 2, "sorted")
    assert batches == [(["q1", "q2"], ["p1", "p2"]), (["q0"], ["p0"])]


def test_a_pool_starts_its_processes_under_the_emulations_environment_and_restores_this_ones(monkeypatch):
    import os

    from bench.ceiling import _environment

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    with _environment({"ATEN_CPU_CAPABILITY": "avx2", "LD_PRELOAD": "/x/cpuid_avx2.so"}):
        assert (os.environ["ATEN_CPU_CAPABILITY"], os.environ["LD_PRELOAD"]) == ("avx2", "/x/cpuid_avx2.so")
    assert os.environ["ATEN_CPU_CAPABILITY"] == "default"
    assert "LD_PRELOAD" not in os.environ
