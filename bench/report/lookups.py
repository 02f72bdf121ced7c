"""Questions the report asks of one run's `Results`: a point, the best ceiling, a ratio between two points."""

from __future__ import annotations

from ..isa import AVX2, NATIVE
from ..records import CeilingPoint, Results, ServedPoint, VariantRecord

DISTURBED = 0.25
"""Cores used by other processes above which a measurement is flagged as disturbed."""
ISA_NOTE = {NATIVE: "", AVX2: ", AVX2 emulated"}
"""After an engine variant's name, for the instructions its ceiling ran on."""
BUSY_BEFORE_PERCENT = 15.0
"""CPU busy in the second before a run above which the bench refuses to start (`--allow-busy` runs anyway, and
the report says the run was disturbed)."""


def ceiling_best(results: Results, workload: str, precision: str, max_batch: int | None = None) -> CeilingPoint | None:
    """The fastest in-process torch point of `precision`, optionally among those with at most `max_batch` texts
    per call."""
    points = [p for p in results.ceiling if p.workload == workload and p.precision == precision and p.isa == NATIVE
              and p.engine == "torch" and (max_batch is None or p.batch <= max_batch)]  # fmt: skip
    return max(points, key=lambda p: p.texts_per_second, default=None)


def engine_ceiling(results: Results, variant: str, workload: str, isa: str = NATIVE) -> CeilingPoint | None:
    """The in-process ceiling of one engine variant (`onnxruntime-int8`) on the instructions `isa` (`bench.isa`) as
    the shipped server runs it: one single-threaded process per core, batches of the shipped batchSize in arrival
    order; its best point where that one was not measured."""
    points = [p for p in results.ceiling if (p.variant, p.workload, p.isa) == (variant, workload, isa)]
    batch = results.model.shipped_config.get("batchSize")
    served_like = [p for p in points if p.order == "arrival" and p.batch == batch and p.layout.endswith("x1")]
    return max(served_like or points, key=lambda p: p.texts_per_second, default=None)


def best_engine_ceiling(results: Results, workload: str, isa: str = NATIVE) -> CeilingPoint | None:
    """The fastest engine variant's `engine_ceiling` on the instructions `isa`."""
    variants = dict.fromkeys(p.variant for p in results.ceiling)
    ceilings = [engine_ceiling(results, variant, workload, isa) for variant in variants]
    return max((c for c in ceilings if c), key=lambda p: p.texts_per_second, default=None)


def served_as(results: Results, variant: str) -> str:
    """The engine variant a served variant ran (`torch-fp32`, `onnxruntime-int8`), as its workers logged it."""
    record = variant_record(results, variant)
    return f"{(record and record.engine) or 'torch'}-{variant_precision(results, variant)}"


def served_isa(results: Results, variant: str) -> str:
    """The instructions a served variant ran on: `avx2` where its workers ran the AVX2 emulation."""
    record = variant_record(results, variant)
    return AVX2 if record and record.emulated_isa else NATIVE


def served_over(results: Results, variant: str, workload: str, concurrency: int, ceiling: CeilingPoint | None):
    point = served_point(results, variant, workload, concurrency)
    if not point or not ceiling or not ceiling.texts_per_second:
        return None
    return point.measured.texts_per_second / ceiling.texts_per_second


def served_point(results: Results, variant: str, workload: str, concurrency: int) -> ServedPoint | None:
    found = (p for p in results.served if (p.variant, p.workload, p.concurrency) == (variant, workload, concurrency))
    return next(found, None)


def variant_record(results: Results, variant: str) -> VariantRecord | None:
    return next((v for v in results.variants if v.name == variant), None)


def variant_precision(results: Results, variant: str) -> str:
    """The precision a served variant ran in, for comparing it with the ceiling of the same precision."""
    record = variant_record(results, variant)
    dtype = (record.dtype or record.env.get("BERT_CLASSIFIER_PRECISION", "fp32")) if record else "fp32"
    return {"bfloat16": "bf16", "bf16": "bf16", "float16": "fp16", "fp16": "fp16", "int8": "int8"}.get(dtype, "fp32")


def served_over_ceiling(
    results: Results, variant: str, workload: str, concurrency: int, max_batch: int | None = None
) -> float | None:
    point = served_point(results, variant, workload, concurrency)
    best = ceiling_best(results, workload, variant_precision(results, variant), max_batch)
    if not point or not best or not best.texts_per_second:
        return None
    return point.measured.texts_per_second / best.texts_per_second


def speedup(results: Results, faster: str, slower: str, workload: str, concurrency: int) -> float | None:
    a, b = served_point(results, faster, workload, concurrency), served_point(results, slower, workload, concurrency)
    if not a or not b or not b.measured.texts_per_second:
        return None
    return a.measured.texts_per_second / b.measured.texts_per_second


def mean_foreign(results: Results) -> float | None:
    """Average cores used by processes outside the bench over every measurement."""
    values = [p.measured.foreign_cores for p in results.served] + [p.foreign_cores for p in results.ceiling]
    return sum(values) / len(values) if values else None


def disturbed_points(results: Results) -> list[str]:
    """Measurements during which other processes used more than `DISTURBED` cores."""
    names = [f"{p.variant}/{p.workload}/c{p.concurrency}" for p in results.served
             if p.measured.foreign_cores > DISTURBED]  # fmt: skip
    names += [f"ceiling {p.variant}{'/avx2' if p.isa == AVX2 else ''}/{p.layout}/{p.workload}/{p.batch}/{p.order}"
              for p in results.ceiling if p.foreign_cores > DISTURBED]  # fmt: skip
    return names
