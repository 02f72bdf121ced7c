"""bench.md: one run's `Results` as Markdown (pure: results in, text out). The measurement tables are in
`tables`; this module holds the parts that judge and explain: machine, targets, one change at a time, method."""

from __future__ import annotations

from ..records import Results
from ..workloads import WORKLOADS
from .costs import costs_section, engine_target_rows
from .engines import engines_section
from .lookups import (
    BUSY_BEFORE_PERCENT,
    DISTURBED,
    disturbed_points,
    mean_foreign,
    served_over_ceiling,
    served_point,
    speedup,
    variant_record,
)
from .lookups import variant_precision as precision_of
from .protocols import protocols_section
from .tables import accuracy_section, ceiling_section, served_section, sweep_section, workloads_section
from .text import fmt, gflops, ratio, table, verdict

PAIRS = (("fp32", "bf16", "shipped"),)
"""(fp32 variant, bf16 variant, label) pairs compared against the targets."""
BASELINE = "ts-defaults"
"""The variant every shipped precision is compared with (TorchServe-like defaults)."""


def render_markdown(results: Results, plot_name: str | None = "bench.png") -> str:
    lines = [
        "# Serving benchmark: in-process ceiling vs the real TorchServe",
        "",
        f"Produced by `{results.command}` (`make bench`) on {results.started} in "
        f"{fmt(results.duration_seconds / 60, 1)} minutes"
        + (" — **quick smoke run: rough numbers, not for decisions**." if results.quick else "."),
        "Every number below comes from that one run, whose raw results are in `bench-results.json` next to this "
        "file; `python -m bench.report bench-results.json` renders this file and `bench.png` from them again.",
        "",
        *_busy_banner(results),
        *_machine(results),
        *_targets(results),
        *costs_section(results),
        *engines_section(results),
        *_ablation(results),
        *protocols_section(results),
        *([f"![throughput and p99 latency against concurrency]({plot_name})", ""] if plot_name else []),
        *served_section(results),
        *ceiling_section(results),
        *sweep_section(results),
        *accuracy_section(results),
        *workloads_section(results),
        *_method(results),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _machine(results: Results) -> list[str]:
    m, peaks, model = results.machine, results.peaks, results.model
    instructions = "AMX" if m.amx_bf16 else ("AVX512-BF16" if m.avx512_bf16 else "none")
    config, settings = model.shipped_config, model.settings
    peak_ratio = ratio(peaks.bf16 / peaks.fp32 if peaks and peaks.fp32 else None, 1)
    rows = [
        ("CPU", f"{m.cpu}, {m.usable_cores} usable cores, {m.memory_gib} GiB"),
        ("native bf16", f"{'yes' if m.native_bf16 else 'no'} (instructions: {instructions})"),
        ("software", f"Python {m.python}, torch {m.torch}, transformers {m.transformers}, "
                     f"TorchServe {m.torchserve}, {m.os}"),
        ("matmul peak", f"fp32 {gflops(peaks and peaks.fp32)} GFLOP/s, bf16 {gflops(peaks and peaks.bf16)} GFLOP/s "
                        f"({peaks and peaks.size}³ GEMM, {peaks and peaks.threads} threads; bf16/fp32 = {peak_ratio})"),
        ("background load", f"{fmt(m.busy_percent_before, 0)}% CPU busy just before the run, load average "
                            f"{m.load_average_before}; other processes used {fmt(mean_foreign(results), 2)} cores on "
                            f"average during the measurements" + _disturbed(results)),
        ("model", f"{model.dir}: {fmt(model.params / 1e6, 1)} M parameters, "
                  f"{fmt(model.matmul_params / 1e6, 1)} M in encoder matmuls"),
        ("shipped config", f"workers {config.get('minWorkers', '?')}-{config.get('maxWorkers', '?')}, batchSize "
                           f"{config.get('batchSize', '?')}, maxBatchDelay {config.get('maxBatchDelay', '?')} ms, "
                           f"max_length {settings.get('max_length', '?')}, token_budget "
                           f"{settings.get('token_budget', '?')}, precision {settings.get('precision', '?')} "
                           f"(with engine torch here: {_torch_auto(model.auto_dtype)}), torch_threads "
                           f"{settings.get('torch_threads', '?')}, packing {settings.get('packing', 'auto')}"),
    ]  # fmt: skip
    return ["## Machine and model", "", *table(("", ""), rows)]


def _busy_banner(results: Results) -> list[str]:
    """Every figure of a run on a busy machine is suspect: say so before any of them."""
    names = disturbed_points(results)
    busy = results.machine.busy_percent_before
    if not names and (busy is None or busy <= BUSY_BEFORE_PERCENT):
        return []
    return [
        f"> **Disturbed run**: {len(names)} measurements ran while other processes used more than {DISTURBED} cores, "
        f"and the machine was {fmt(busy, 0)}% busy just before the run. Figures marked ‡ are among them; compare "
        "nothing across them, and run the bench again on a quiet machine before deciding anything.",
        "",
    ]


def _disturbed(results: Results) -> str:
    names = disturbed_points(results)
    if not names:
        return "; no measurement was disturbed"
    shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
    return f"; **disturbed measurements (other processes > {DISTURBED} cores): {shown}**"


def _targets(results: Results) -> list[str]:
    c, targets = results.plan.headline_concurrency, results.plan.targets
    measured = {p.variant for p in results.served}
    pairs = [pair for pair in PAIRS if pair[0] in measured or pair[1] in measured] or PAIRS[:1]
    rows = []
    for fp32, bf16, label in pairs:
        for variant in (fp32, bf16):
            for workload in targets.workloads:
                value = served_over_ceiling(results, variant, workload, c)
                limited = served_over_ceiling(results, variant, workload, c, max_batch=c)
                rows.append((
                    f"{label}: served {variant} / in-process {precision_of(results, variant)} ceiling, {workload}, "
                    f"c={c}", f"{ratio(value)} ({ratio(limited)} of the ceiling at ≤ {c} texts/call)",
                    f"≥ {targets.served_over_ceiling}", verdict(value, targets.served_over_ceiling),
                ))  # fmt: skip
        value = speedup(results, bf16, fp32, "mixed", c)
        rows.append((f"{label}: served {bf16} / served {fp32}, mixed, c={c}", ratio(value),
                     f"≥ {targets.bf16_over_fp32}", verdict(value, targets.bf16_over_fp32)))  # fmt: skip
    rows += [*engine_target_rows(results), _accuracy_row(results), *_start_rows(results), *_baseline_rows(results)]
    return ["## Targets", "", *table(("measure", "value", "target", ""), rows)]


def _accuracy_row(results: Results) -> tuple[str, ...]:
    bound = results.plan.targets.accuracy_points
    accuracy = results.accuracy
    delta = accuracy.delta_points if accuracy and len(accuracy.results) > 1 else None
    return ("bf16 − fp32 held-out accuracy", fmt(delta, 2, " points"), f"within ±{bound}",
            verdict(abs(delta) if delta is not None else None, bound, False))  # fmt: skip


def _start_rows(results: Results) -> list[tuple[str, ...]]:
    target = results.plan.targets.start_to_ready_seconds
    return [
        (f"start-to-ready, {record.name} archive", fmt(record.start_to_ready_seconds, 1, " s"), f"< {target:.0f} s",
         verdict(record.start_to_ready_seconds, target, False))
        for record in results.variants if not record.partial
    ]  # fmt: skip


def _baseline_rows(results: Results) -> list[tuple[str, ...]]:
    c, rows = results.plan.headline_concurrency, []
    for variant in ("fp32", "bf16"):
        for workload in WORKLOADS:
            value = speedup(results, variant, BASELINE, workload, c)
            if value is not None:
                rows.append((f"served {variant} / TorchServe-like defaults, {workload}, c={c}", ratio(value, 1), "> 1",
                             verdict(value, 1.0)))  # fmt: skip
    return rows


def _ablation(results: Results) -> list[str]:
    """Each served variant at the headline concurrency against the shipped fp32 config."""
    c = results.plan.headline_concurrency
    names = list(dict.fromkeys(p.variant for p in results.served if p.concurrency == c))
    if "fp32" not in names or len(names) < 2:
        return []
    rows = []
    for name in names:
        record = variant_record(results, name)
        cells = [name, record.description if record else ""]
        for workload in results.plan.targets.workloads:
            point = served_point(results, name, workload, c)
            cells += [fmt(point.measured.texts_per_second) if point else "–",
                      ratio(speedup(results, name, "fp32", workload, c))]  # fmt: skip
        rows.append(cells)
    columns = [column for w in results.plan.targets.workloads for column in (f"{w} texts/s", "vs shipped fp32")]
    header = ("variant", "what", *columns)
    return [f"### One change at a time (concurrency {c})", "", *table(header, rows)]


def _method(results: Results) -> list[str]:
    plan = results.plan
    phases = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in results.phases.items())
    samples = ", ".join(f"{name} {count}" for name, count in plan.ceiling_samples)
    return [
        "## Method",
        "",
        f"- Served: the real TorchServe (`tools.server.LocalTorchServe`, free loopback ports) serving `.mar` archives "
        f"built by `tools.archive.build_archive` from the shipped `model-config.yaml` or a variant of it; precision "
        f"set per server with `BERT_CLASSIFIER_PRECISION`. Closed loop (aiohttp): N clients, each posting "
        f'`{{"text": ...}}` as soon as its previous answer arrived; at most {plan.load_max_requests} '
        f"requests and {plan.load_seconds} s per point (requests in flight then get "
        f"{plan.drain_seconds} s more, later ones are cut off and counted apart), each point repeated "
        f"{plan.repeats}× (repetitions interleaved, each starting elsewhere in the workload); medians reported.",
        "- Ceiling: `TextClassifier` in spawned processes that each load (and warm) the model once; a run classifies "
        f"a fixed sample of the workload completely ({samples} texts), one `classify` call per batch, each "
        "batch going to whichever process is free, timed from the first batch handed out to the last answer; "
        f"{plan.ceiling_repeats} runs per variant, median reported.",
        "- Model FLOPs per text: 2 × encoder matmul weights × tokens + 4 × layers × tokens² × hidden (attention) + "
        "pooler and classifier, on unpadded tokens; peaks: best of repeated square GEMMs with all usable cores.",
        "- Start-to-ready: from launching `torchserve --start` to every worker READY and a first prediction answered.",
        "- Noise: repetitions within a run are interleaved, but every variant runs in its own fresh server, and on "
        "a small shared machine the workers share the cores with the frontend and the load generator, so the same "
        "point can differ between two runs of the bench by more than `runs min–max` (the spread inside this run) "
        "shows. Treat small differences between variants as ties.",
        f"- Phases: {phases}.",
        "",
    ]


def _torch_auto(dtype: str) -> str:
    """What `precision: auto` means for the torch engine on the bench host: a probe only where bf16 is native."""
    if dtype == "bfloat16":
        return "the start-up probe times fp32 against bf16 where the accuracy gate admitted bf16"
    return f"{dtype}, the only candidate"
