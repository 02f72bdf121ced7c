"""A small, complete `bench.records.Results` for the report and records tests (numbers chosen for easy ratios)."""

from __future__ import annotations

from bench.plan import Plan
from bench.records import (
    CeilingPoint,
    Machine,
    Measured,
    ModelInfo,
    Peaks,
    Results,
    ServedPoint,
    ServerStats,
    SweepPoint,
    VariantRecord,
    WorkloadSummary,
)
from training.precision_accuracy import AccuracyReport, PrecisionAccuracy


def measured(rate: float, foreign_cores: float = 0.0) -> Measured:
    return Measured(
        runs=3,
        texts_per_second=rate,
        texts_per_second_runs=[rate * 0.9, rate, rate * 1.1],
        requests_per_second=rate,
        flops_per_second=rate * 1e8,
        p50=0.01,
        p90=0.02,
        p99=0.03,
        requests=100,
        unfinished=0,
        errors=0,
        error_kinds={},
        client_cpu=0.3,
        foreign_cores=foreign_cores,
        server=ServerStats(texts_per_batch=7.5, padding=1.0, model_busy=0.7),
    )


def variant(name: str, precision: str, seconds: float, dtype: str) -> VariantRecord:
    env = {"BERT_CLASSIFIER_PRECISION": precision}
    config = {"minWorkers": 2, "maxWorkers": 2, "batchSize": 8, "maxBatchDelay": 5}
    return VariantRecord(name, "shipped", "shipped", env, False, config, seconds, dtype, 1, 2)


def sample_results() -> Results:
    ceiling = [
        CeilingPoint(w, p, "2x1", 16, "sorted", rate, rate * 1e8, 3)
        for w, p, rate in [("short", "fp32", 100.0), ("mixed", "fp32", 50.0), ("short", "bf16", 200.0),
                           ("mixed", "bf16", 100.0)]
    ]  # fmt: skip
    accuracy = AccuracyReport(
        "split.json: 2 held-out articles",
        [PrecisionAccuracy("fp32", "float32", 1, 2, 1.0), PrecisionAccuracy("bf16", "bfloat16", 1, 2, 0.5)],
        agreement=0.99,
        max_score_difference=0.01,
    )
    return Results(
        command="python -m bench --out docs",
        quick=False,
        plan=Plan(),
        started="2026-01-01T00:00:00+00:00",
        machine=Machine(cpu="Test CPU", usable_cores=2, native_bf16=True, avx512_bf16=True),
        model=ModelInfo("artifacts", {"max_length": 256}, {"batchSize": 8, "maxBatchDelay": 5}, "bfloat16"),
        phases={"peaks": 3.0},
        peaks=Peaks(fp32=1e11, bf16=2e11, size=2048, threads=2),
        workloads=[WorkloadSummary("short", 2000, 0.0, 12.5, 30, 2.6e8)],
        accuracy=accuracy,
        ceiling=ceiling,
        variants=[variant("fp32", "fp32", 7.5, "float32"), variant("bf16", "bf16", 20.0, "bfloat16")],
        served=[
            ServedPoint("fp32", "short", 16, measured(90.0)),
            ServedPoint("fp32", "mixed", 16, measured(40.0)),
            ServedPoint("bf16", "short", 16, measured(180.0)),
            ServedPoint("bf16", "mixed", 16, measured(90.0)),
            ServedPoint("fp32", "short", 1, measured(20.0)),
        ],
        sweep=[SweepPoint("fp32", 32, 5, "mixed", 16, measured(45.0))],
        duration_seconds=480.0,
    )
