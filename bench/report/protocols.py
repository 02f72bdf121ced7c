"""Issue 15's section of bench.md: served texts/s per protocol on one server, against `/predictions`."""

from __future__ import annotations

from ..records import Results
from .text import fmt, ratio, table


def protocols_section(results: Results) -> list[str]:
    if not results.protocols:
        return []
    reference = next((p for p in results.protocols if p.protocol == "predictions"), None)
    rows = [
        [point.protocol, fmt(point.texts_per_second, 1), ratio(point.texts_per_second / reference.texts_per_second
         if reference and reference.texts_per_second else None), fmt(point.p50 * 1000, 1), fmt(point.p99 * 1000, 1),
         str(point.errors)]
        for point in results.protocols
    ]  # fmt: skip
    c, variant = results.plan.headline_concurrency, results.protocols[0].variant
    return [
        "## Protocols: `/predictions`, Open Inference Protocol REST, TorchServe gRPC",
        "",
        f"The `{variant}` variant's server, short texts, one per request, concurrency {c}, "
        f"medians of {results.protocols[0].runs} interleaved runs.",
        "",
        *table(["protocol", "texts/s", "÷ /predictions", "p50 ms", "p99 ms", "errors"], rows),
        "",
    ]
