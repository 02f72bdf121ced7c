"""Render a `RunResult` as docs/reports/reliability.md. `render_markdown` is pure (a record in, text out)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .report_format import duration, holds, recorded, seconds, table
from .report_sections import (
    canary_section,
    cases_section,
    faults_section,
    notes_section,
    overload_section,
    soak_section,
    statuses,
)
from .results import CaseResult, RunResult, to_json
from .verdicts import NOT_SHARED, SHARED, neighbours_evidence


def write_report(result: RunResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    markdown, raw = out / "reliability.md", out / "reliability.json"
    raw.write_text(to_json(result) + "\n")
    markdown.write_text(render_markdown(result))
    return [markdown, raw]


def all_problems(result: RunResult) -> list[str]:
    """Every broken check of the run, each prefixed with where it was found."""
    found = [f"{case.name}: {problem}" for case in result.cases for problem in case.problems]
    for name in ("overload", "kill", "drain", "frontend_death", "soak", "canary"):
        record = getattr(result, name)
        found += [f"{name}: {problem}" for problem in (record.problems if record else [])]
    found += [f"unloadable ({run.max_retry_timeout_s} s): {p}" for run in result.unloadable[:1] for p in run.problems]
    return found + result.errors


def render_markdown(result: RunResult) -> str:
    lines = [
        "# Reliability: hostile input, overload, faults, soak, privacy",
        "",
        f"Written by `{result.command}` (`make reliability`) on {result.started}, in {result.seconds / 60:.1f} min, "
        f"against the real TorchServe serving the trained model (archive: {result.archive or 'torch only'}) with "
        "this branch's model-config.yaml and config.properties. Raw results: [reliability.json](reliability.json); "
        "re-render this page from them with "
        "`python -m reliability --render docs/reports/reliability.json --out docs/reports`.",
        "",
        f"Machine: {_machine(result.machine)}. Times and CPU figures depend on this machine and on how busy it was "
        "(load averages above); statuses, counts and log contents do not.",
        "",
        *_summary(result),
        *cases_section(result),
        *overload_section(result),
        *faults_section(result),
        *soak_section(result),
        *canary_section(result),
        *notes_section(result),
    ]
    return "\n".join(lines).rstrip() + "\n"


def _unharmed(cases: list[CaseResult]) -> str:
    """Kinds whose neighbours shared the bad input's batch and were all unharmed; the others do not count, and
    why (`verdicts.neighbours_evidence`)."""
    evidence = Counter(neighbours_evidence(case) for case in cases)
    shared = [case for case in cases if neighbours_evidence(case) == SHARED]
    unharmed = [case for case in shared if not case.harmed]
    others = ", ".join(f"{why} {count}" for why, count in sorted(evidence.items()) if why != SHARED)
    return (f"{len(unharmed)} of {len(cases)} kinds ({sum(len(c.neighbours) for c in unharmed)} neighbours)"
            + (f"; not counted: {others}" if others else ""))  # fmt: skip


def _machine(machine: dict) -> str:
    return ", ".join(f"{key} {value}" for key, value in machine.items()) or "not recorded"


def _summary(result: RunResult) -> list[str]:
    cases = result.cases
    rows = []
    if cases:
        sources = Counter(case.source for case in cases)
        wrong = [c for c in cases if any(not p.startswith(("cost", "a worker")) for p in c.problems)]
        harmed = [c for c in cases if c.harmed]
        unproven = [c for c in cases if neighbours_evidence(c) == NOT_SHARED and not c.harmed]
        restarted = [c for c in cases if c.restarted]
        costly = max(cases, key=lambda c: c.cost_cpu_seconds if c.cost_bound else 0.0)
        shared = Counter(case.shared_batch for case in cases)
        limited = [case for case in cases if case.frontend_limit]
        rows += [
            ("bad inputs: kinds tried", f"{len(cases)} ({', '.join(f'{k} {v}' for k, v in sorted(sources.items()))})",
             ""),
            ("answered as the contract says", f"{len(cases) - len(wrong)} of {len(cases)} kinds", holds(wrong)),
            ("TorchServe frontend limits (docs/reliability.md)", f"{len(limited)} kinds: form posts it cannot decode "
             "get its own 500, which repeats the form", "known" if limited else ""),
            ("neighbours unharmed, in the bad input's batch", _unharmed(cases), holds(harmed + unproven)),
            ("worker restarts from input", f"{len(restarted)} kinds", holds(restarted)),
            ("largest worker CPU of a bad input", f"{costly.cost_cpu_seconds:.2f} s ({costly.name})",
             holds([c for c in cases if any(p.startswith("cost") for p in c.problems)])),
            ("batch shared with the neighbours (proof)", ", ".join(f"{k} {v}" for k, v in sorted(shared.items())), ""),
        ]  # fmt: skip
    if result.overload:
        over = result.overload
        first = next((run for run in over.runs if run.offered_rate), None)
        rows.append(("overload at 4x: statuses", statuses(first) if first else "-", holds(over.problems)))
    if result.kill:
        kill = result.kill
        rows.append(("worker SIGKILL: failed requests, recovery",
                     f"{kill.failed} (batch size {kill.batch_size}), {seconds(kill.recovery_seconds)}",
                     holds(kill.problems)))  # fmt: skip
    for run in result.unloadable[:1]:
        rows.append(("model that cannot load: /ping Healthy for", seconds(run.healthy_seconds), holds(run.problems)))
    if result.drain:
        drain = result.drain
        lost = drain.in_flight - drain.statuses.get("200", 0)
        rows.append(("SIGTERM to `serve`: requests lost, exit", f"{lost} of {drain.in_flight}; exit {drain.exit_code} "
                     f"after {seconds(drain.exit_seconds)}; unanswered at SIGTERM: "
                     f"{recorded(drain.unanswered_at_signal)}", holds(drain.problems)))  # fmt: skip
    if result.frontend_death:
        death = result.frontend_death
        rows.append(("frontend killed: `serve` exit status", f"{death.exit_code} after {seconds(death.exit_seconds)}",
                     holds(death.problems)))  # fmt: skip
    if result.soak:
        soak = result.soak
        rows.append((f"soak {duration(soak.seconds)}: unexpected statuses, RSS growth, fd growth",
                     f"{sum(soak.unexpected.values())}, {soak.rss_growth:.1%}, {soak.fd_growth}",
                     holds(soak.problems)))  # fmt: skip
    if result.canary:
        rows.append(("log lines holding the canary", f"{len(result.canary.hits)} in {len(result.canary.files)} files",
                     holds(result.canary.problems)))  # fmt: skip
    return ["## Summary", "", *table(("check", "measured", "holds"), rows)]
