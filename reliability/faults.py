"""Faults of the model server: a worker SIGKILLed under load, and a model that cannot load (issue 11, point 4).

Why /ping stays Healthy for a while with a model that cannot load (TorchServe 0.12's `WorkerThread`): a worker
is unhealthy only when `now - recoveryStartTS >= maxRetryTimeoutInSec`, and `recoveryStartTS` is set when the
worker *first stops* (`setState(WORKER_STOPPED)`), not when the server starts. So /ping answers Healthy for the
first load attempt (JVM start, Python start, import torch, the failed load: `startupTimeout` at most) plus
`maxRetryTimeoutInSec`.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from dataclasses import dataclass

import requests

from tools.server import LocalTorchServe, wait_for

from .loadgen import Outcome, closed_loop, summarise
from .results import KillResult, UnloadableResult
from .served import MODEL, Archives, Served
from .verdicts import UNHEALTHY_DEADLINE_SECONDS, judge_kill, judge_unloadable

RECOVERY_START = re.compile(r"Auto recovery start timestamp: (\d+)")
HEALTH_MARGIN_SECONDS = 5.0
"""Kept between the measured first failure plus maxRetryTimeoutInSec and the 30 s limit (a loaded host loads
slower)."""


@dataclass(frozen=True)
class FaultPlan:
    batches_before_kill: int = 8
    load_seconds: float = 25.0
    deadline_seconds: float = 30.0
    unhealthy_deadline_seconds: float = 90.0


def kill_worker(served: Served, mix, plan: FaultPlan) -> KillResult:
    """SIGKILL one worker while closed-loop clients keep both busy; count the failures, time the recovery."""
    limits = served.limits
    clients = limits.batch_size * limits.workers
    outcomes: list[Outcome] = []

    def load() -> None:
        outcomes.extend(closed_loop(served.url, mix, clients, plan.load_seconds, plan.deadline_seconds))

    batches = served.metrics().get("bert_batches_total", 0.0)
    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    steady = batches + plan.batches_before_kill  # a kill under steady load, not at its start
    wait_for(lambda: served.metrics().get("bert_batches_total", 0.0) >= steady, plan.load_seconds, "steady load")
    old = served.worker_pids()
    victim = old[0]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    new_pid, recovery, pings = None, None, []

    def replaced() -> int | None:
        pings.append(_ping_status(served.server.inference_url))
        return _replacement(served, old)

    try:
        new_pid = wait_for(replaced, 120, "a replacement worker READY", interval=0.5)
        served.wait_ready()
        recovery = time.monotonic() - killed_at
    except TimeoutError:
        pass
    loader.join(plan.load_seconds + plan.deadline_seconds + 30)
    load_summary = summarise("closed loop during the kill", outcomes)
    result = KillResult(
        load=load_summary,
        killed_pid=victim,
        failed=sum(o.status != "200" for o in outcomes),
        batch_size=limits.batch_size,
        recovery_seconds=recovery,
        new_pid=new_pid,
        ping_unhealthy_seconds=0.5 * sum(status != 200 for status in pings),
    )
    result.problems = judge_kill(result)
    return result


def _ping_status(url: str) -> int:
    try:
        return requests.get(f"{url}/ping", timeout=5).status_code
    except requests.RequestException:
        return 0


def _replacement(served: Served, old: list[int]) -> int | None:
    """The pid of a READY worker that was not there before the kill."""
    workers = served.describe().get("workers", [])
    fresh = [w["pid"] for w in workers if w.get("status") == "READY" and w.get("pid") not in old]
    return fresh[0] if fresh else None


def unloadable(archives: Archives, mar: str, plan: FaultPlan, log_dirs: list) -> UnloadableResult:
    """Start TorchServe with only `mar` (its weights removed) and time how long /ping says Healthy."""
    config = _archive_config(archives, mar)
    server = LocalTorchServe(model_store=archives.store)
    log_dirs.append(server.workdir)
    wall, started = time.time(), time.monotonic()
    server.start(f"{MODEL}={mar}")
    healthy = None
    try:
        healthy = wait_for(lambda: _unhealthy_after(server, started), plan.unhealthy_deadline_seconds, "/ping")
    except TimeoutError:
        pass
    finally:
        first = RECOVERY_START.search(server.all_logs())
        server.stop()
    result = UnloadableResult(
        max_retry_timeout_s=int(config.get("maxRetryTimeoutInSec", 300)),
        startup_timeout_s=int(config.get("startupTimeout", 120)),
        healthy_seconds=healthy,
        first_failure_seconds=int(first.group(1)) / 1000 - wall if first else None,
        deadline_seconds=plan.unhealthy_deadline_seconds,
    )
    result.problems = judge_unloadable(result)
    return result


def _unhealthy_after(server: LocalTorchServe, started: float) -> float | None:
    """Seconds since start once /ping answers non-200; None while Healthy or not listening yet."""
    status = _ping_status(server.inference_url)
    return time.monotonic() - started if status not in (0, 200) else None


def _archive_config(archives: Archives, mar: str) -> dict:
    import zipfile

    import yaml

    with zipfile.ZipFile(archives.store / mar) as archive:
        return yaml.safe_load(archive.read("model-config.yaml"))


def proposed_max_retry(first_failure_seconds: float | None) -> int | None:
    """The largest maxRetryTimeoutInSec that keeps the measured first failure plus it, plus a margin, under
    30 s; None when the first failure was not measured."""
    if first_failure_seconds is None:
        return None
    return max(int(UNHEALTHY_DEADLINE_SECONDS - HEALTH_MARGIN_SECONDS - first_failure_seconds), 1)
