"""The headline ratios in paired rounds: the best engine's in-process ceiling and a served variant measured in turns
while its server is up, so the drift of this machine's speed (on a VM, ±10% over minutes) meets both sides of
each ratio instead of only one.

A round, per workload: a ceiling run, a closed-loop served run at the headline concurrency, a ceiling run again.
The round's ratio is the served texts/s over the mean of the two ceiling runs; the report judges the targets on
the median of the rounds (`bench.report.costs`). The grid's unpaired points stay in the report as they are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .ceiling import Call, CeilingPool, make_batches, served_layout
from .isa import AVX2, NATIVE
from .load import Payload
from .plan import MODEL_NAME, Plan
from .records import PairedRound, Results

Log = Callable[[str], None]


@dataclass(frozen=True)
class CeilingRun:
    """What one workload's ceiling runs are: the engine variant and the batches a run classifies."""

    variant: str
    batches: list[Call]
    flops: list[float]


@dataclass(frozen=True)
class Pairing:
    """Everything the paired rounds need besides the server: the ceiling pools' model folders and settings, and
    per workload the best engine's ceiling run."""

    model_dirs: dict[str, Path]
    """Folder per engine (`torch`, `onnxruntime`), as the ceiling loads it."""
    settings: dict
    cores: int
    runs: dict[str, CeilingRun]
    emulation: dict[str, str] | None = None
    """The AVX2 emulation's environment for the pools (`bench.isa`), or None: the host's own instructions."""


def plan_pairings(
    results: Results, model_dirs: dict[str, Path], settings: dict, workloads: dict, emulation: dict | None = None
) -> dict[str, Pairing]:
    """`plan_pairing` per instruction set this run measured ceilings on: the host's own, and the emulated AVX2-only
    CPU's with `emulation`."""
    found = {NATIVE: plan_pairing(results, model_dirs, settings, workloads)}
    if emulation:
        found[AVX2] = plan_pairing(results, model_dirs, settings, workloads, emulation)
    return {isa: pairing for isa, pairing in found.items() if pairing}


def plan_pairing(
    results: Results, model_dirs: dict[str, Path], settings: dict, workloads: dict, emulation: dict | None = None
) -> Pairing | None:
    """Per target workload the best engine variant of this run's ceiling phase (on the emulated AVX2-only CPU with
    `emulation`), cut into calls as its ceiling point was (texts per call, order, the plan's sample); None when
    that ceiling was not measured."""
    from .report.lookups import best_engine_ceiling

    samples, runs = dict(results.plan.ceiling_samples), {}
    for workload, _ in results.plan.targets.served_over_best_engine:
        best = best_engine_ceiling(results, workload, AVX2 if emulation else NATIVE)
        if best and workload in workloads:
            sample, flops = workloads[workload]
            batches, batch_flops = make_batches(sample, flops, best.batch, best.order, samples.get(workload))
            runs[workload] = CeilingRun(best.variant, batches, batch_flops)
    return Pairing(model_dirs, settings, results.machine.usable_cores, runs, emulation) if runs else None


def measure_paired(
    server, variant: str, pairing: Pairing, payloads: dict[str, list[Payload]], plan: Plan, workers: int, log: Log
) -> list[PairedRound]:
    """`plan.paired_rounds` rounds on every workload of `pairing`, against the running `server` (warmed up)."""
    rounds = []
    with contextlib.ExitStack() as stack:
        pools = {name: stack.enter_context(_pool(pairing, name)) for name in {r.variant for r in pairing.runs.values()}}
        for run in pairing.runs.values():
            pools[run.variant].run_once(run.batches, run.flops)  # not timed: the pool's first pass over the sample
        for number in range(1, plan.paired_rounds + 1):
            for workload, run in pairing.runs.items():
                served = Served(server, variant, workload, payloads[workload], workers)
                paired = _round(served, number, pools[run.variant], run, plan)
                rounds.append(paired)
                log(f"paired {variant} {workload} round {number}: served {paired.served_texts_per_second:.0f} "
                    f"texts/s, ceiling {'/'.join(f'{t:.0f}' for t in paired.ceiling_texts_per_second)}, "
                    f"ratio {paired.ratio:.2f}")  # fmt: skip
    return rounds


@dataclass(frozen=True)
class Served:
    """The served side of a round: the running server, the variant it serves, a workload's payloads."""

    server: object
    variant: str
    workload: str
    payloads: list[Payload]
    workers: int


def _round(served: Served, number: int, pool: CeilingPool, run: CeilingRun, plan: Plan) -> PairedRound:
    """A ceiling run, a served run (starting elsewhere in the workload each round), a ceiling run."""
    from .served import measure, rotate

    before = pool.run_once(run.batches, run.flops)
    found, _, cost = measure(served.server, MODEL_NAME, rotate(served.payloads, number), plan.headline_concurrency,
                             plan, served.workers)  # fmt: skip
    after = pool.run_once(run.batches, run.flops)
    return PairedRound(
        variant=served.variant,
        workload=served.workload,
        number=number,
        ceiling_variant=run.variant,
        ceiling_texts_per_second=[before[0], after[0]],
        ceiling_cpu_ms_per_text=[before[3], after[3]],
        served_texts_per_second=found.texts_per_second,
        texts_per_request=found.texts / found.requests if found.requests else 1.0,
        cost=cost,
        foreign_cores=max(before[2], after[2], found.foreign_cores),
    )


def _pool(pairing: Pairing, variant: str) -> CeilingPool:
    engine, _, precision = variant.rpartition("-")
    layout = served_layout(pairing.cores)
    return CeilingPool(str(pairing.model_dirs[engine]), pairing.settings, layout, engine, precision, pairing.emulation)
