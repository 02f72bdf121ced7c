"""Questions the report asks of one run's `Results`: a point, the best ceiling, a ratio between two points."""

from __future__ import annotations

from ..records import CeilingPoint, Results, ServedPoint, VariantRecord

DISTURBED = 0.25
"""Cores used by other processes above which a measurement is flagged as disturbed."""


def ceiling_best(results: Results, workload: str, precision: str, max_batch: int | None = None) -> CeilingPoint | None:
    """The fastest in-process variant, optionally among those with at most `max_batch` texts per call."""
    points = [p for p in results.ceiling if p.workload == workload and p.precision == precision
              and (max_batch is None or p.batch <= max_batch)]  # fmt: skip
    return max(points, key=lambda p: p.texts_per_second, default=None)


def served_point(results: Results, variant: str, workload: str, concurrency: int) -> ServedPoint | None:
    found = (p for p in results.served if (p.variant, p.workload, p.concurrency) == (variant, workload, concurrency))
    return next(found, None)


def variant_record(results: Results, variant: str) -> VariantRecord | None:
    return next((v for v in results.variants if v.name == variant), None)


def variant_precision(results: Results, variant: str) -> str:
    """The precision a served variant ran in, for comparing it with the ceiling of the same precision."""
    record = variant_record(results, variant)
    dtype = (record.dtype or record.env.get("BERT_CLASSIFIER_PRECISION", "fp32")) if record else "fp32"
    return "bf16" if dtype in ("bfloat16", "bf16") else "fp32"


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
    names += [f"ceiling {p.precision}/{p.layout}/{p.workload}/{p.batch}/{p.order}" for p in results.ceiling
              if p.foreign_cores > DISTURBED]  # fmt: skip
    return names
