"""CPU time by process of a running TorchServe, read from /proc (psutil) before and after a measured phase.

A server is a process tree: the `torchserve` launcher, the Java frontend under it, and the Python workers under
the frontend (`model_service_worker.py`). The load generator is this process. What each spent per answered
request says where a request's cost goes outside the model.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass, field

FRONTEND = "frontend"
WORKER_MARK = "model_service_worker"


@dataclass(frozen=True)
class CpuSample:
    """CPU seconds (user + system) so far: the frontend's, each worker's by pid, and this process's."""

    frontend: float
    workers: dict[int, float]
    client: float


def sample(server_pid: int) -> CpuSample:
    """The CPU time so far of the server started as `server_pid` (its whole tree) and of this process."""
    import psutil

    frontend, workers = 0.0, {}
    try:
        tree = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        tree = []
    for process in tree:
        try:
            times, command = process.cpu_times(), " ".join(process.cmdline())
        except psutil.Error:  # exited meanwhile
            continue
        seconds = times.user + times.system
        if WORKER_MARK in command:
            workers[process.pid] = seconds
        elif process.name() == "java" or "java" in command.split(" ", 1)[0]:
            frontend += seconds
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return CpuSample(frontend, workers, usage.ru_utime + usage.ru_stime)


@dataclass
class RequestCost:
    """CPU milliseconds per answered request, by process, over one measured phase."""

    frontend_ms: float
    workers_ms: list[float] = field(default_factory=list)
    """One per worker that was there before and after (a restarted worker is left out)."""
    client_ms: float = 0.0

    @property
    def server_ms(self) -> float:
        """The frontend's and every worker's CPU per request: what serving costs, the model included."""
        return self.frontend_ms + sum(self.workers_ms)


def request_cost(before: CpuSample, after: CpuSample, requests: int) -> RequestCost | None:
    """Per-request CPU between two samples; None when nothing was answered."""
    if requests <= 0:
        return None
    per = 1000.0 / requests
    workers = [
        (after.workers[pid] - before.workers[pid]) * per for pid in sorted(after.workers) if pid in before.workers
    ]
    return RequestCost((after.frontend - before.frontend) * per, workers, (after.client - before.client) * per)
