"""Overload: the sustainable rate, then 4x it, per job-queue size; and how TorchServe says "queue full" and
"no worker" (issue 11, point 3).

TorchServe 0.12 answers both with the same 503 (`ApiUtils.addRESTInferenceJob`: `ModelManager.addJob` is false
when the model has no worker *or* when `LinkedBlockingDeque.offer` finds the queue full). The queue's length is
`jobQueueSize` in model-config.yaml (or `job_queue_size` in config.properties; TorchServe's default 100).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import requests

from .http import send
from .loadgen import Tagged, closed_loop, open_loop, summarise
from .results import OverloadResult
from .served import Archives, Served
from .traffic import good_requests, long_text, plain_json
from .verdicts import QUEUE_SLACK, judge_overload

TORCHSERVE_DEFAULT_QUEUE = 100
OVERLOAD_FACTOR = 4
TARGET_QUEUE_SECONDS = 2.0
"""How long a request may wait in the queue at capacity: the proposed jobQueueSize is capacity x this, so a
queued request is answered well inside a 10 s client deadline and the rest get a fast 503."""


@dataclass(frozen=True)
class OverloadPlan:
    capacity_seconds: float = 10.0
    overload_seconds: float = 20.0
    deadline_seconds: float = 10.0
    variants: bool = True
    """Also run 4x on archives with the proposed jobQueueSize (and with `client_timeout_ms`)."""
    client_timeout_ms: int | None = 2000
    """Also run the proposal with this `clientTimeoutInMills`, to show what it does (None: skip)."""


def overload_mix() -> list[Tagged]:
    """One long-ish text per JSON request (~300 tokens, truncated to max_length): the load is the model's."""
    return [Tagged("long-text", plain_json(long_text(300 + 10 * i))) for i in range(8)]


def measure_overload(archives: Archives, served: Served, plan: OverloadPlan, log_dirs: list, log) -> OverloadResult:
    """On `served` (the shipped archive): capacity, 4x with its queue, queue-full and no-worker answers; then 4x
    again on archives with the proposed jobQueueSize (and clientTimeoutInMills), each on a fresh server."""
    mix = overload_mix()
    limits = served.limits
    clients = limits.batch_size * limits.workers
    closed_loop(served.url, mix, clients, 2.0, plan.deadline_seconds)  # warm-up, not measured
    capacity = summarise(
        "capacity", closed_loop(served.url, mix, clients, plan.capacity_seconds, plan.deadline_seconds)
    )
    rate = capacity.answered_rate
    log(f"overload: sustainable {rate:.1f} requests/s at {clients} clients")
    queue = int(served.describe().get("jobQueueStatus", {}).get("remainingCapacity", 0)) or TORCHSERVE_DEFAULT_QUEUE
    deadline = _deadline(plan, queue, limits, rate)
    run, full_message = _overload_run(
        served, mix, rate, plan, f"{OVERLOAD_FACTOR}x, jobQueueSize {queue} (as configured)", deadline
    )
    runs = [capacity, run]
    after, after_seconds = _after(served, deadline)
    no_worker, ping = _no_worker_answer(served)
    proposal = {"jobQueueSize": max(int(rate * TARGET_QUEUE_SECONDS), limits.batch_size * limits.workers)}
    variants = [("proposed", proposal)] if plan.variants else []
    if plan.variants and plan.client_timeout_ms:
        variants.append(("client-timeout", proposal | {"clientTimeoutInMills": plan.client_timeout_ms}))
    for name, overrides in variants:
        if overrides == {"jobQueueSize": queue}:
            continue
        mar = archives.variant(f"overload-{name}", **overrides)
        other = Served.start(archives, limits, mar=mar)
        log_dirs += other.log_dirs
        try:
            label = f"{OVERLOAD_FACTOR}x, " + ", ".join(f"{key} {value}" for key, value in overrides.items())
            runs.append(
                _overload_run(other, mix, rate, plan, label, _deadline(plan, overrides["jobQueueSize"], limits, rate))[
                    0
                ]
            )
        finally:
            other.stop()
    result = OverloadResult(
        sustainable_rate=rate, concurrency=clients, deadline_seconds=deadline,
        client_deadline_seconds=plan.deadline_seconds, job_queue_size=queue,
        runs=runs, after_status=after, after_seconds=after_seconds, queue_full_message=full_message,
        no_worker_message=no_worker, no_worker_ping=ping, proposal=proposal,
    )  # fmt: skip
    result.problems = judge_overload(result)
    return result


def _deadline(plan: OverloadPlan, queue: int, limits, rate: float) -> float:
    """The client deadline, or longer where the measured rate makes the queue plus the running batches take
    longer than that (a shared or slow host): then the check is that nothing waits longer than the queue implies."""
    ahead = queue + limits.batch_size * limits.workers
    return max(plan.deadline_seconds, QUEUE_SLACK * ahead / rate) if rate > 0 else plan.deadline_seconds


def _overload_run(served: Served, mix, rate: float, plan: OverloadPlan, label: str, deadline: float):
    """Open loop at OVERLOAD_FACTOR x `rate`, sampling the job queue meanwhile; the summary and a 503's text."""
    samples: list[dict] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            samples.append(served.queue())
            stop.wait(0.5)  # sampling interval

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        outcomes = open_loop(served.url, mix, rate * OVERLOAD_FACTOR, plan.overload_seconds, deadline)
    finally:
        stop.set()
        watcher.join(10)
    summary = summarise(label, outcomes, rate * OVERLOAD_FACTOR)
    summary.deadline_seconds = deadline
    summary.queue = {
        "max_pending": max((s.get("pendingRequests", 0) for s in samples), default=0),
        "min_remaining": min((s.get("remainingCapacity", 0) for s in samples), default=0),
    }
    message = next((o.detail for o in outcomes if o.status == "503" and o.detail), None)
    return summary, message


def _after(served: Served, deadline: float, give_up: float = 120.0) -> tuple[int, float | None]:
    """The status of a request sent right after the overload, and the seconds until one gets a 200 (requests
    that clients gave up on are still in TorchServe's queue and are worked off first)."""
    started = time.monotonic()
    first = None
    while time.monotonic() - started < give_up:
        status = send(served.url, good_requests()[0].request, deadline).status
        first = status if first is None else first
        if status == 200:
            return first, time.monotonic() - started
    return first or 0, None


def _no_worker_answer(served: Served) -> tuple[str | None, str | None]:
    """Scale the model to zero workers: what a prediction and /ping answer then; scale back and wait."""
    served.client.scale(served.model, 0)
    try:
        reply = send(served.url, good_requests()[0].request, 30)
        ping = requests.get(f"{served.server.inference_url}/ping", timeout=10)
        return f"{reply.status} {reply.body.decode(errors='replace')[:300]}", f"{ping.status_code} {ping.text.strip()}"
    finally:
        served.client.scale(served.model, served.limits.workers)
        served.wait_ready()
