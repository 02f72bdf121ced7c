"""The engines section of bench.md: the accuracy gate's table, what `engine: auto` chose and why (the probe, the
CPU flags), and the ratios of served auto to served torch fp32, natively and with an AVX2-only CPU emulated."""

from __future__ import annotations

from ..records import Results
from .lookups import speedup, variant_record
from .text import fmt, ratio, table, verdict

ENGINE_VARIANTS = ("auto", "auto-avx2", "fp32", "fp32-avx2", "ort-fp32", "ort-int8")
TARGETS = (("short", 2.0), ("mixed", 1.2))
"""Served auto over served torch fp32 at the headline concurrency, one text per request, per workload."""


def engines_section(results: Results) -> list[str]:
    if not results.engines:
        return []
    from tools.accuracy_gate import render

    lines = ["## Engines: ONNX Runtime, int8 and `engine: auto`", ""]
    lines += [*render(results.engines).splitlines()[1:], ""]
    rows = []
    for name in ENGINE_VARIANTS:
        record = variant_record(results, name)
        if record:
            rows.append([name, f"{record.engine or '?'}-{record.dtype or '?'}", record.chosen_by or "–",
                         record.cpu_isa or "–", fmt(record.start_to_ready_seconds, 1, " s")])  # fmt: skip
    lines += [*table(["variant", "served as", "chosen by", "CPU flags", "start-to-ready"], rows), ""]
    c = results.plan.headline_concurrency
    checks = []
    for workload, target in TARGETS:
        checks.append(
            (f"served auto ÷ served fp32, {workload}, c={c}", speedup(results, "auto", "fp32", workload, c), target)
        )
        avx2 = speedup(results, "auto-avx2", "fp32-avx2", workload, c)
        checks.append((f"AVX2 emulated: auto ÷ fp32, {workload}, c={c}", avx2, target))
    lines += [*table(["target", "measured", ""], [[n, ratio(v), verdict(v, t)] for n, v, t in checks]), ""]
    return lines
