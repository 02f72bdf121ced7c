"""bench.paired: which ceiling each headline workload is paired with, and how its runs are cut."""

from __future__ import annotations

import pytest

from bench.paired import plan_pairing
from bench.workloads import Workload
from tests.unit.test_bench_report import engine_results

pytestmark = pytest.mark.unit


def workload(name: str, count: int) -> tuple[Workload, list[float]]:
    return Workload(name, [f"{name}{i}" for i in range(count)], [False] * count, tokens=[5] * count), [1.0] * count


def test_each_target_workload_is_paired_with_its_best_engine_ceiling_cut_as_that_point_was():
    results = engine_results()
    workloads = {"short": workload("short", 2000), "mixed": workload("mixed", 2000), "long": workload("long", 10)}
    pairing = plan_pairing(results, {"onnxruntime": "onnx-dir"}, {"max_length": 256}, workloads)
    assert set(pairing.runs) == {"short", "mixed"}  # the targets' workloads only
    short = pairing.runs["short"]
    assert short.variant == "onnxruntime-int8"  # the served-like point (2x1, 8, arrival), not the faster sorted 16
    assert [len(texts) for texts, _ in short.batches] == [8] * (960 // 8)  # the plan's ceiling sample, 8 per call
    assert short.batches[0][0] == [f"short{i}" for i in range(8)]  # arrival order
    assert sum(short.flops) == 960.0
    assert sum(len(texts) for texts, _ in pairing.runs["mixed"].batches) == 384
    assert pairing.cores == results.machine.usable_cores


def test_no_ceiling_measured_means_no_pairing():
    results = engine_results()
    results.ceiling = []
    assert plan_pairing(results, {}, {}, {"short": workload("short", 10)}) is None


def test_the_emulated_cpu_gets_its_own_pairing_with_the_ceiling_measured_there():
    from bench.paired import plan_pairings
    from bench.records import CeilingPoint

    results = engine_results()
    results.ceiling.append(
        CeilingPoint("short", "fp32", "2x1", 8, "arrival", 50.0, 1e9, 2, 0.0, "onnxruntime", 5.0, "avx2")
    )
    workloads = {"short": workload("short", 100), "mixed": workload("mixed", 100)}
    assert set(plan_pairings(results, {}, {}, workloads)) == {"native"}
    pairings = plan_pairings(results, {}, {}, workloads, emulation={"LD_PRELOAD": "x.so"})
    assert pairings["native"].runs["short"].variant == "onnxruntime-int8"
    assert pairings["native"].emulation is None
    assert set(pairings["avx2"].runs) == {"short"}  # no mixed ceiling measured on the emulated CPU
    assert pairings["avx2"].runs["short"].variant == "onnxruntime-fp32"
    assert pairings["avx2"].emulation == {"LD_PRELOAD": "x.so"}
