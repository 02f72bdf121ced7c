"""Typed result records of one reliability run, and their JSON form (docs/reports/reliability.json).

Every record is a dataclass; `to_json` / `from_json` round-trip a `RunResult`, so the report can be rendered again
from the JSON without running anything. A record's `problems` lists what broke the contract (empty: it held).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field


@dataclass
class Answer:
    """One request's outcome. `status` 0: no HTTP answer (`error` says why: timeout, reset, closed)."""

    status: int
    seconds: float
    body_kind: str
    error: str | None = None
    error_type: str | None = None
    message: str | None = None
    """The error message, shortened, with the canary masked."""
    media_type: str = ""
    results: int | None = None
    """Results in a 200's body."""


@dataclass
class NeighbourAnswer:
    name: str
    status: int
    seconds: float
    same: bool
    """Its answer equals the answer it got alone (labels equal, scores within the tolerance)."""
    error: str | None = None


@dataclass
class CaseResult:
    """A bad input sent together with good neighbours (`reliability.neighbours`)."""

    name: str
    source: str
    what: str
    server: str
    size: int
    expected: list[int]
    bad: list[Answer]
    neighbours: list[NeighbourAnswer]
    echoed: bool
    """The answer to the bad request quoted its text (the canary)."""
    shared_batch: str
    """`yes` (the handler logged one batch holding every request of the case), `refused` (the
    frontend answered the bad request before batching), `failed-together` (the batch failed as a whole),
    `no` or `unknown`."""
    handler_batches: int
    """Batch lines the handler logged for the case."""
    handler_requests: int
    worker_cpu_seconds: float
    cost_cpu_seconds: float
    """Worker CPU of the case minus the median CPU of an all-good batch (what the bad input cost)."""
    frontend_cpu_seconds: float
    restarted: bool
    cost_bound: bool = True
    """Held to the bound on worker CPU (admissible heavy work is not)."""
    frontend_limit: bool = False
    """Answered by TorchServe's frontend in a way no handler can change (`Case.frontend_limit`)."""
    recovery_seconds: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def harmed(self) -> list[NeighbourAnswer]:
        return [n for n in self.neighbours if n.status != 200 or not n.same]


@dataclass
class LoadSummary:
    """An open- or closed-loop run: statuses, client-side failures and latencies per status."""

    label: str
    offered_rate: float
    """Requests per second sent (0 for a closed loop)."""
    seconds: float
    sent: int
    statuses: dict[str, int]
    """Status code (or `timeout`, `reset`, ...) to count."""
    latency: dict[str, dict[str, float]]
    """Status to {p50, p99, max} seconds."""
    answered_rate: float = 0.0
    """200s per second."""
    sent_rate: float = 0.0
    """Requests per second the generator actually sent (below `offered_rate` when it could not keep up)."""
    deadline_seconds: float = 0.0
    """Each request's deadline in this run (0: none)."""
    queue: dict[str, int] = field(default_factory=dict)
    """TorchServe's job queue sampled during the run: `max_pending`, `min_remaining`."""
    problems: list[str] = field(default_factory=list)


@dataclass
class OverloadResult:
    sustainable_rate: float
    """Requests per second answered 200 by a closed loop at `concurrency` (the capacity)."""
    concurrency: int
    deadline_seconds: float
    """The deadline of the run with the configured queue (the client deadline, or longer on a slow host)."""
    client_deadline_seconds: float
    job_queue_size: int
    runs: list[LoadSummary]
    after_status: int
    """A request sent right after the overload."""
    after_seconds: float | None
    """From the end of the overload until a request got a 200 (None: not within two minutes)."""
    queue_full_message: str | None
    no_worker_message: str | None
    no_worker_ping: str | None
    proposal: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


@dataclass
class KillResult:
    load: LoadSummary
    killed_pid: int
    failed: int
    """Requests that did not get a 200 while the worker was killed and replaced."""
    batch_size: int
    recovery_seconds: float | None
    """From SIGKILL until the replacement worker was READY and a prediction answered."""
    new_pid: int | None
    ping_unhealthy_seconds: float = 0.0
    """How long /ping answered Unhealthy while the replacement loaded (maxRetryTimeoutInSec shorter than a
    restart makes it flap)."""
    problems: list[str] = field(default_factory=list)


@dataclass
class UnloadableResult:
    """TorchServe started with only an archive whose weights were removed."""

    max_retry_timeout_s: int
    startup_timeout_s: int
    healthy_seconds: float | None
    """From `torchserve --start` until /ping first answered Unhealthy (None: never within the deadline)."""
    first_failure_seconds: float | None
    """From start until the first failed load was logged (TorchServe's health clock starts there)."""
    deadline_seconds: float
    problems: list[str] = field(default_factory=list)


@dataclass
class DrainResult:
    """SIGTERM to the SageMaker `serve` entrypoint with requests in flight."""

    in_flight: int
    answered: int
    statuses: dict[str, int]
    exit_code: int | None
    exit_seconds: float | None
    problems: list[str] = field(default_factory=list)
    unanswered_at_signal: int | None = None
    """Requests not yet answered when SIGTERM was sent: only these test the drain (None: not recorded)."""


@dataclass
class FrontendDeathResult:
    """SIGKILL to TorchServe's Java frontend under the SageMaker entrypoint."""

    exit_code: int | None
    exit_seconds: float | None
    problems: list[str] = field(default_factory=list)


@dataclass
class SoakResult:
    seconds: float
    rate: float
    load: LoadSummary
    unexpected: dict[str, int]
    """`kind:status` of answers whose status the request's kind does not allow."""
    rss_mb: dict[str, list[float]]
    """Worker pid to RSS samples (MiB) after warm-up."""
    fds: dict[str, list[int]]
    rss_growth: float
    """Largest relative RSS growth of a worker from the first to the last sample."""
    fd_growth: int
    restarted: bool
    problems: list[str] = field(default_factory=list)


@dataclass
class CanaryResult:
    canary: str
    files: list[str]
    hits: list[dict]
    """{path, line, form, excerpt} per log line holding the canary."""
    problems: list[str] = field(default_factory=list)


@dataclass
class RunResult:
    command: str
    started: str
    quick: bool
    machine: dict
    limits: dict
    archive: str = ""
    """How the served archive was built (with or without the ONNX engines)."""
    seconds: float = 0.0
    cases: list[CaseResult] = field(default_factory=list)
    baseline_cpu_seconds: float = 0.0
    overload: OverloadResult | None = None
    kill: KillResult | None = None
    unloadable: list[UnloadableResult] = field(default_factory=list)
    """As configured, then with the proposed maxRetryTimeoutInSec."""
    drain: DrainResult | None = None
    frontend_death: FrontendDeathResult | None = None
    soak: SoakResult | None = None
    canary: CanaryResult | None = None
    errors: list[str] = field(default_factory=list)
    """Phases the suite itself could not measure (each also a problem of the run)."""


def to_json(result: RunResult) -> str:
    return json.dumps(dataclasses.asdict(result), indent=1, ensure_ascii=False)


def from_json(text: str) -> RunResult:
    return _build(RunResult, json.loads(text))


def _build(kind, data):
    """`data` (from JSON) as an instance of the annotated type `kind` (dataclasses, lists, dicts, optionals)."""
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        inner = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _build(inner[0], data)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_build(item, value) for value in data]
    if origin is dict:
        _, item = typing.get_args(kind)
        return {key: _build(item, value) for key, value in data.items()}
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        known = {f.name for f in dataclasses.fields(kind)}
        return kind(**{name: _build(hints[name], value) for name, value in data.items() if name in known})
    return data
