"""docs/reports/explanations.md from one run's `ExplainResults` (pure: results in, text out), and writing it with the
raw results next to it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..load import median
from ..report.lookups import DISTURBED
from ..report.text import fmt, table
from .plan import COST_KINDS, LAYOUTS
from .records import CostPoint, ExplainResults, LayoutRun, LoadSummary

REPORT_NAME, RESULTS_NAME = "explanations.md", "explanations-results.json"
COST_HEADER = ("text", "requests", "tokens per text", "steps", "explanation: median (min–max)", "prediction: median",
               "errors")  # fmt: skip
LAYOUT_HEADER = ("layout", "predictions/s", "p50", "p90", "p99", "explanation p50", "explanations", "errors",
                 "other processes (cores)")  # fmt: skip


def write_report(results: ExplainResults, out: Path, save_results: bool = True) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    report = out / REPORT_NAME
    report.write_text(render(results), encoding="utf-8")
    return [report, results.save(out / RESULTS_NAME)] if save_results else [report]


def render(results: ExplainResults) -> str:
    lines = [
        "# Explanations: cost per text, and prediction latency while explanations run",
        "",
        f"Produced by `{results.command}` (`make bench-explanations{'-quick' if results.quick else ''}`) on "
        f"{results.started} in "
        f"{fmt(results.duration_seconds / 60, 1)} minutes"
        + (" — **quick smoke run: rough numbers, not for decisions**." if results.quick else "."),
        f"Every number below comes from that one run, whose raw results are in `{RESULTS_NAME}` next to this file; "
        f"`python -m bench.explanations --render {RESULTS_NAME}` writes this file again from them.",
        "",
        *machine_section(results),
        *[f"**Could not be measured:** {error}" for error in results.errors],
        *cost_section(results),
        *layouts_section(results),
        *runs_section(results.layouts),
    ]
    return "\n".join(lines).rstrip() + "\n"


def machine_section(results: ExplainResults) -> list[str]:
    m, w, s = results.machine, results.workers, results.settings
    pools = "; ".join(
        f"`{name}`: {c.get('workers')} worker(s), batchSize {c.get('batchSize')}, maxBatchDelay "
        f"{c.get('maxBatchDelay')} ms"
        for name, c in results.pools.items()
    )
    rows = [
        ("machine", f"{m.cpu}, {m.usable_cores} usable cores, {m.memory_gib} GiB; Python {m.python}, torch {m.torch}, "
                    f"TorchServe {m.torchserve}, {m.os}"),
        ("background load", f"{fmt(m.busy_percent_before, 0)}% CPU busy just before the run, load average "
                            f"{m.load_average_before} before and {results.load_average_after} after"),
        ("archive", results.archive),
        ("pools", pools or "–"),
        ("prediction workers", f"engine {w.get('engine', '?')}, dtype {w.get('dtype', '?')}, "
                               f"{w.get('torch_threads', '?')} torch thread(s) each; explanations always run the "
                               f"fp32 torch model"),
        ("explanation settings", ", ".join(f"{key} {value}" for key, value in s.items()) or "–"),
    ]  # fmt: skip
    return ["## Machine, archive and pools", "", *table(("", ""), rows)]


def cost_section(results: ExplainResults) -> list[str]:
    found = {point.kind: point for point in results.costs}
    rows = [cost_row(description, found[kind]) for kind, description, _ in COST_KINDS if kind in found]
    return [
        "## Cost per explained text",
        "",
        "Through the real TorchServe: each request explained by the otherwise idle `_explain` worker, one request "
        "at a time, the predicted label at the default steps; then the same body classified on `/predictions` by "
        "the prediction workers. Each request holds other held-out articles.",
        "",
        *table(COST_HEADER, rows),
        f"The `_explain` worker's first explanation, which also loads what explanations need, took "
        f"{seconds(results.first_explanation_seconds)}.",
        "",
    ]


def cost_row(description: str, point: CostPoint) -> tuple:
    answered = [s for s in point.samples if s.status == 200]
    times = [s.seconds for s in answered]
    tokens = [t for s in point.samples for t in s.tokens]
    predicted = [s.prediction_seconds for s in point.samples if s.prediction_status == 200]
    steps = sorted({s.steps for s in answered if s.steps is not None})
    spread = f"{seconds(median(times))} ({fmt(min(times), 2)}–{seconds(max(times))})" if times else "–"
    return (
        description,
        len(point.samples),
        f"{fmt(median(tokens), 0)} ({min(tokens)}–{max(tokens)})" if tokens else "–",
        ", ".join(map(str, steps)) or "–",
        spread,
        seconds(median(predicted)) if predicted else "–",
        len(point.samples) - len(answered),
    )


def layouts_section(results: ExplainResults) -> list[str]:
    plan = results.plan
    rows = [layout_row(title, runs) for key, title in LAYOUTS if (runs := of_layout(results.layouts, key))]
    return [
        "## Prediction latency while explanations run",
        "",
        f"{plan.prediction_clients} closed-loop prediction clients of {plan.prediction_words}-word held-out texts, "
        f"one text per request; in the explaining layouts {plan.explanation_clients} closed-loop explanation "
        f"client(s) of {plan.explanation_words}-word held-out texts at the same time. {fmt(plan.layout_seconds, 0)} s "
        f"per run, {plan.layout_repeats} run(s) per layout, interleaved; medians over the runs. Latencies from "
        "request sent to answer received.",
        "",
        *table(LAYOUT_HEADER, rows),
        f"Other processes: cores the rest of the machine kept busy during the runs (above {DISTURBED} the runs were "
        "disturbed). Every run is listed below.",
        "",
    ]


def of_layout(runs: Sequence[LayoutRun], key: str) -> list[LayoutRun]:
    return [run for run in runs if run.layout == key]


def layout_row(title: str, runs: Sequence[LayoutRun]) -> tuple:
    predictions = [run.predictions for run in runs]
    explanations = [run.explanations for run in runs if run.explanations]
    return (
        title,
        fmt(median([p.per_second for p in predictions]), 1),
        *(milliseconds(middle(predictions, q)) for q in ("p50", "p90", "p99")),
        seconds(middle(explanations, "p50")) if explanations else "",
        sum(e.requests for e in explanations) if explanations else "",
        sum(errors(p) for p in [*predictions, *explanations]),
        fmt(median([p.foreign_cores for p in predictions]), 2),
    )


def runs_section(runs: Sequence[LayoutRun]) -> list[str]:
    titles = dict(LAYOUTS)
    rows = [
        (titles.get(run.layout, run.layout), run.repeat + 1, fmt(run.predictions.per_second, 1),
         milliseconds(run.predictions.p50), milliseconds(run.predictions.p99),
         seconds(run.explanations.p50) if run.explanations else "",
         run.explanations.requests if run.explanations else "",
         errors(run.predictions) + (errors(run.explanations) if run.explanations else 0),
         fmt(run.predictions.foreign_cores, 2))
        for run in runs
    ]  # fmt: skip
    if not rows:
        return []
    header = ("layout", "run", "predictions/s", "p50", "p99", "explanation p50", "explanations", "errors",
              "other processes (cores)")  # fmt: skip
    return ["## Every run, in the order run", "", *table(header, rows)]


def middle(summaries: Sequence[LoadSummary], name: str) -> float | None:
    values = [getattr(s, name) for s in summaries if getattr(s, name) is not None]
    return median(values) if values else None


def errors(summary: LoadSummary) -> int:
    """Error answers and requests left unanswered."""
    return sum(summary.errors.values()) + summary.unfinished


def milliseconds(value: float | None) -> str:
    return fmt(None if value is None else value * 1000, 0, " ms")


def seconds(value: float | None) -> str:
    return fmt(value, 2, " s")
