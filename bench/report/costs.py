"""The engine ceilings, served speed against them, CPU per request by process, and what `engine: auto` chose on
each start: the report's answer to "how close is the server to its engine, and where does the rest go"."""

from __future__ import annotations

from ..load import median
from ..records import CeilingPoint, PairedRound, Results, ServedPoint
from .lookups import (
    DISTURBED,
    ISA_NOTE,
    best_engine_ceiling,
    engine_ceiling,
    served_as,
    served_isa,
    served_over,
    served_point,
    variant_record,
)
from .text import fmt, ratio, table, verdict

AUTO = "auto"
AUTO_ELSEWHERE = ("auto-avx2",)
"""`engine: auto` served on another instruction set (`bench.isa`): judged on the same targets, against the
ceilings measured on the same instructions."""
ENGINE_VARIANTS = ("fp32", "bf16", "ort-fp32", "ort-int8")
"""Served variants that differ from the shipped archive only in the engine variant they are made to run."""
MARK = " ‡"
"""After a figure measured while other processes used more than `DISTURBED` cores."""


def engine_target_rows(results: Results) -> list[tuple[str, ...]]:
    """Rows of the Targets table for `engine: auto` (and for it on the emulated AVX2-only CPU where measured):
    judged on the paired rounds where the run has them."""
    c, targets = results.plan.headline_concurrency, results.plan.targets
    rows = []
    for auto in [AUTO] + [name for name in AUTO_ELSEWHERE if variant_record(results, name)]:
        rows += [_best_engine_row(results, auto, name, target) for name, target in targets.served_over_best_engine]
        rows += [_outside_model_row(results, auto), _same_choice_row(results, auto)]
    fastest = max((p for p in (served_point(results, v, "short", c) for v in ENGINE_VARIANTS) if p),
                  key=lambda p: p.measured.texts_per_second, default=None)  # fmt: skip
    auto = served_point(results, AUTO, "short", c)
    value = auto.measured.texts_per_second / fastest.measured.texts_per_second if auto and fastest else None
    name = f" ({fastest.variant})" if fastest else ""
    rows.append((f"served auto / fastest served engine variant{name}, short, c={c}", ratio(value),
                 f"≥ {targets.auto_within_fastest}", verdict(value, targets.auto_within_fastest)))  # fmt: skip
    return rows


def _best_engine_row(results: Results, variant: str, workload: str, target: float) -> tuple[str, ...]:
    rounds, isa = paired_rounds(results, variant, workload), served_isa(results, variant)
    if rounds:
        value, engine = median([r.ratio for r in rounds]), rounds[0].ceiling_variant
        mark = MARK if any(r.foreign_cores > DISTURBED for r in rounds) else ""
    else:
        best = best_engine_ceiling(results, workload, isa)
        value = served_over(results, variant, workload, results.plan.headline_concurrency, best)
        engine, mark = best.variant if best else None, _mark(results, variant, workload, best)
    where = f" ({engine}{ISA_NOTE[isa]})" if engine else ""
    label = (
        f"served {variant} / best engine's in-process ceiling{where}, {workload}, "
        f"c={results.plan.headline_concurrency}{_paired(rounds)}"
    )
    return (label, ratio(value) + mark, f"≥ {target}", verdict(value, target))


def _outside_model_row(results: Results, variant: str) -> tuple[str, ...]:
    c, bound = results.plan.headline_concurrency, results.plan.targets.outside_model_ms
    rounds = [r for r in paired_rounds(results, variant, "short") if r.outside_model_ms is not None]
    if rounds:
        outside = median([r.outside_model_ms for r in rounds])
    else:
        outside = outside_model_ms(results, served_point(results, variant, "short", c))
    label = f"served {variant}: server CPU per request outside the model, short, c={c}{_paired(rounds)}"
    return (label, fmt(outside, 2, " ms"), f"≤ {bound} ms", verdict(outside, bound, False))


def paired_rounds(results: Results, variant: str, workload: str) -> list[PairedRound]:
    return [r for r in results.paired if (r.variant, r.workload) == (variant, workload)]


def _paired(rounds: list[PairedRound]) -> str:
    return f", median of {len(rounds)} paired rounds" if rounds else ""


def _same_choice_row(results: Results, variant: str) -> tuple[str, ...]:
    chosen = [start.served for start in results.starts if start.variant == variant]
    record = variant_record(results, variant)
    if record and record.engine:
        chosen.append(served_as(results, variant))
    label = f"{variant}: the same variant on every start"
    if not chosen:
        return (label, "–", "every start", "not measured")
    same = len(set(chosen)) == 1
    value = (
        f"{chosen.count(chosen[0]) if same else 'not all'} of {len(chosen)} starts: {', '.join(sorted(set(chosen)))}"
    )
    return (label, value, "every start", "**met**" if same else "**not met**")


def outside_model_ms(results: Results, point: ServedPoint | None) -> float | None:
    """Server CPU per request (frontend + workers) less the model's own CPU for the request's texts, from the
    in-process ceiling of the same engine variant on the same instructions."""
    if not point:
        return None
    cost, isa = point.measured.cost, served_isa(results, point.variant)
    ceiling = engine_ceiling(results, served_as(results, point.variant), point.workload, isa)
    if not cost or not ceiling or ceiling.cpu_ms_per_text is None:
        return None
    return cost.server_ms - ceiling.cpu_ms_per_text * _texts_per_request(point)


def costs_section(results: Results) -> list[str]:
    c = results.plan.headline_concurrency
    rows = [_cost_row(results, p) for p in results.served if p.concurrency == c and p.measured.cost]
    header = (
        "variant", "served as", "workload", "texts/s", "÷ same engine's ceiling", "÷ best engine's ceiling",
        "frontend ms/req", "workers ms/req", "load generator ms/req", "model ms/req", "outside model ms/req",
    )  # fmt: skip
    return [
        f"## CPU per request by process, and the engine ceilings (concurrency {c})",
        "",
        "CPU time (user + system, from /proc) of the Java frontend, of each worker and of the load generator, "
        "sampled before and after each measured run and divided by the requests answered (medians over the "
        "repetitions). model ms/req: the CPU the same engine variant spends per text in process (its ceiling "
        "below) times the texts per request; outside model: frontend + workers − model. An engine's ceiling is its "
        "in-process speed as the shipped server runs it: one single-threaded process per core, batches of the "
        f"shipped batchSize in arrival order. {MARK.strip()}: measured while other processes used more than "
        f"{DISTURBED} cores.",
        "",
        *table(header, rows),
        *_paired_table(results),
        *_ceilings_table(results),
        *_starts_table(results),
    ]


def _cost_row(results: Results, point: ServedPoint) -> tuple[str, ...]:
    engine, cost, isa = served_as(results, point.variant), point.measured.cost, served_isa(results, point.variant)
    same = engine_ceiling(results, engine, point.workload, isa)
    best = best_engine_ceiling(results, point.workload, isa)

    def over(ceiling: CeilingPoint | None) -> str:
        return ratio(served_over(results, point.variant, point.workload, point.concurrency, ceiling))

    speed = fmt(point.measured.texts_per_second) + _mark(results, point.variant, point.workload)
    workers = " + ".join(fmt(w, 2) for w in cost.workers_ms)
    model, outside = _model_ms(same, point), outside_model_ms(results, point)
    return (point.variant, engine, point.workload, speed, over(same), over(best), fmt(cost.frontend_ms, 2), workers,
            fmt(cost.client_ms, 2), fmt(model, 2), fmt(outside, 2))  # fmt: skip


def _paired_table(results: Results) -> list[str]:
    if not results.paired:
        return []
    rows = [_paired_row(r) for r in results.paired]
    header = ("variant", "workload", "ceiling", "round", "ceiling before", "served", "ceiling after", "ratio",
              "frontend ms/req", "workers ms/req", "outside model ms/req")  # fmt: skip
    return [
        "### Paired rounds",
        "",
        "The targets on the best engine's ceiling are judged here: each round runs the engine's in-process ceiling, "
        "the served variant at the headline concurrency, and the ceiling again, in turns on the same server, so a "
        "drift of the machine's speed meets both sides of the ratio (texts/s; ratio: served over the mean of the "
        "two ceiling runs; outside model: frontend + workers − that ceiling's CPU for the request's texts).",
        "",
        *table(header, rows),
    ]


def _paired_row(paired: PairedRound) -> tuple[str, ...]:
    cost, (before, *_, after) = paired.cost, paired.ceiling_texts_per_second
    served = fmt(paired.served_texts_per_second) + (MARK if paired.foreign_cores > DISTURBED else "")
    workers = " + ".join(fmt(w, 2) for w in cost.workers_ms) if cost else "–"
    return (paired.variant, paired.workload, paired.ceiling_variant, str(paired.number), fmt(before), served,
            fmt(after), ratio(paired.ratio), fmt(cost.frontend_ms if cost else None, 2), workers,
            fmt(paired.outside_model_ms, 2))  # fmt: skip


def _ceilings_table(results: Results) -> list[str]:
    rows = []
    for isa in dict.fromkeys(p.isa for p in results.ceiling):
        for workload in dict.fromkeys(p.workload for p in results.ceiling):
            for variant in dict.fromkeys(p.variant for p in results.ceiling):
                point = engine_ceiling(results, variant, workload, isa)
                if point:
                    rows.append((variant + ISA_NOTE[isa], workload, point.layout, point.batch, point.order,
                                 fmt(point.texts_per_second) + (MARK if point.foreign_cores > DISTURBED else ""),
                                 fmt(point.cpu_ms_per_text, 2)))  # fmt: skip
    header = ("engine variant", "workload", "layout", "texts/call", "order", "texts/s", "CPU ms/text")
    return ["### Engine ceilings", "", *table(header, rows)] if rows else []


def _starts_table(results: Results) -> list[str]:
    if not results.starts:
        return []
    rows = [(s.variant, [r.variant for r in results.starts[: i + 1]].count(s.variant), s.served,
             fmt(s.seconds, 1, " s"), s.chosen_by) for i, s in enumerate(results.starts)]  # fmt: skip
    return [
        "### `engine: auto` on every start",
        "",
        "The same archive started again in a fresh server each time (own temp folder, so no recorded choice), "
        "to ready; what the workers chose and the figures the probe decided on, as the start-up line logs them.",
        "",
        *table(("variant", "start", "served", "start-to-ready", "chosen by"), rows),
    ]


def _model_ms(ceiling: CeilingPoint | None, point: ServedPoint) -> float | None:
    if not ceiling or ceiling.cpu_ms_per_text is None:
        return None
    return ceiling.cpu_ms_per_text * _texts_per_request(point)


def _texts_per_request(point: ServedPoint) -> float:
    m = point.measured
    return m.texts_per_second / m.requests_per_second if m.requests_per_second else 1.0


def _mark(results: Results, variant: str, workload: str, ceiling: CeilingPoint | None = None) -> str:
    point = served_point(results, variant, workload, results.plan.headline_concurrency)
    disturbed = (point and point.measured.foreign_cores > DISTURBED) or (ceiling and ceiling.foreign_cores > DISTURBED)
    return MARK if disturbed else ""
