"""The phases of a run, each starting the servers it needs and stopping them; `Plan` says how much to measure.

The catalog phase needs a long `maxBatchDelay` (so a case's requests share one batch); the load phases need the
shipped settings; faults of start-up and of the SageMaker entrypoint need their own processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .canary import scan_logs
from .cases import Case
from .drain import DrainPlan, drain, frontend_death
from .faults import FaultPlan, kill_worker, proposed_max_retry, unloadable
from .limits import Limits
from .loadgen import closed_loop, summarise
from .neighbours import baseline_cpu, references, run_case
from .overload import OverloadPlan, measure_overload, overload_mix
from .results import CanaryResult, RunResult
from .served import Archives, Served
from .soak import SOAK_SHARE, SoakPlan, soak, soak_mix
from .traffic import neighbours
from .verdicts import judge_canary

CATALOG_BATCH_DELAY_MS = 3000
"""maxBatchDelay of the catalog phase: a whole case (up to 6 MiB bodies) arrives well within it."""
SERVER_ENV = {"shipped": {}, "window": {"BERT_CLASSIFIER_LONG_TEXT": "window"}}


@dataclass(frozen=True)
class Plan:
    soak: SoakPlan = field(default_factory=SoakPlan)
    overload: OverloadPlan = field(default_factory=OverloadPlan)
    faults: FaultPlan = field(default_factory=FaultPlan)
    drain: DrainPlan = field(default_factory=DrainPlan)
    propose_max_retry: bool = True
    """Also start the unloadable model with the proposed maxRetryTimeoutInSec, to check the proposal."""


QUICK = Plan(
    soak=SoakPlan(seconds=30.0, sample_seconds=2.0),
    overload=OverloadPlan(capacity_seconds=4.0, overload_seconds=8.0, variants=False),
    faults=FaultPlan(load_seconds=15.0),
    propose_max_retry=False,
)
PHASES = ("cases", "overload", "soak", "kill", "unloadable", "drain", "frontend", "canary")

Log = Callable[[str], None]


def client_timeout(limits: Limits) -> float:
    """Long enough for TorchServe's own responseTimeout to fire first (and a restart after it)."""
    return limits.response_timeout_s + 30.0


def catalog_phase(archives: Archives, limits: Limits, cases: list[Case], result: RunResult, log_dirs: list[Path],
                  log: Log) -> None:  # fmt: skip
    """Every case on the server its settings need, into `result.cases` as they finish (a failure later keeps
    them), with the CPU of an all-good batch on the shipped settings."""
    for server in dict.fromkeys(case.server for case in cases):
        served = Served.start(archives, limits, max_batch_delay_ms=CATALOG_BATCH_DELAY_MS, env=SERVER_ENV[server])
        log_dirs += served.log_dirs
        try:
            timeout = client_timeout(limits)
            refs = references(served, neighbours(limits.batch_size), timeout)
            baseline = baseline_cpu(served, refs, timeout)
            if server == "shipped":
                result.baseline_cpu_seconds = baseline
            for case in (c for c in cases if c.server == server):
                found = run_case(served, case, refs, baseline, timeout)
                statuses = ", ".join(str(a.status or a.error) for a in found.bad)
                log(f"{case.name}: {statuses}, batch {found.shared_batch}, {len(found.harmed)} harmed, "
                    f"{'; '.join(found.problems) or 'holds'}")  # fmt: skip
                result.cases.append(found)
        finally:
            served.stop()


def load_phases(archives: Archives, limits: Limits, cases: list[Case], plan: Plan, phases: set[str],
                result: RunResult, log_dirs: list[Path], log: Log) -> None:  # fmt: skip
    """Overload, soak and the worker kill on one server with the shipped settings (the kill last)."""
    served = Served.start(archives, limits)
    log_dirs += served.log_dirs
    try:
        rate = None
        if "overload" in phases:
            result.overload = measure_overload(archives, served, plan.overload, log_dirs, log)
            rate = result.overload.sustainable_rate
            log(f"overload: {'; '.join(result.overload.problems) or 'holds'}")
        if "soak" in phases:
            mix = overload_mix()
            rate = rate or summarise("capacity", closed_loop(served.url, mix, limits.batch_size * limits.workers, 5.0,
                                                             plan.overload.deadline_seconds)).answered_rate  # fmt: skip
            result.soak = soak(served, soak_mix(cases, mix[:2]), rate * SOAK_SHARE, plan.soak)
            log(f"soak: {'; '.join(result.soak.problems) or 'holds'}")
        if "kill" in phases:
            result.kill = kill_worker(served, overload_mix(), plan.faults)
            log(f"kill: {'; '.join(result.kill.problems) or 'holds'}")
    finally:
        served.stop()


def unloadable_phase(archives: Archives, plan: Plan, result: RunResult, log_dirs: list[Path], log: Log) -> None:
    configured = unloadable(archives, archives.broken, plan.faults, log_dirs)
    result.unloadable = [configured]
    log(f"unloadable: Healthy for {configured.healthy_seconds} s; {'; '.join(configured.problems) or 'holds'}")
    proposal = proposed_max_retry(configured.first_failure_seconds)
    if plan.propose_max_retry and proposal and proposal != configured.max_retry_timeout_s:
        mar = archives.variant("broken-proposed", base=archives.broken, maxRetryTimeoutInSec=proposal)
        result.unloadable.append(unloadable(archives, mar, plan.faults, log_dirs))
        log(f"unloadable with maxRetryTimeoutInSec {proposal}: Healthy for {result.unloadable[-1].healthy_seconds} s")


def entrypoint_phases(model_dir: Path, plan: Plan, phases: set[str], result: RunResult, log_dirs: list[Path],
                      log: Log) -> None:  # fmt: skip
    if "drain" in phases:
        result.drain = drain(model_dir, plan.drain, log_dirs)
        log(f"drain: {'; '.join(result.drain.problems) or 'holds'}")
    if "frontend" in phases:
        result.frontend_death = frontend_death(model_dir, log_dirs)
        log(f"frontend death: {'; '.join(result.frontend_death.problems) or 'holds'}")


def canary_phase(log_dirs: list[Path]) -> CanaryResult:
    from .canary import CANARY

    files, hits = scan_logs(log_dirs)
    result = CanaryResult(CANARY, files, [hit.__dict__ for hit in hits])
    result.problems = judge_canary(result)
    return result
