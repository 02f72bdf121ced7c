"""Send a bad input at the same moment as good neighbours, prove they shared a batch, and record what happened.

The batch phase registers the model with a long `maxBatchDelay`, and a case sends exactly `batchSize` requests
(its bad copies plus neighbours), so TorchServe hands them to one worker as one batch. The handler's own line per
batch in model_log.log (`batch requests=N texts=... errors=...`) then shows whether they did: one more batch line,
holding every request that reached the handler. (Its /metrics counters say the same, but are released at most once
a second, summed over batches, so they cannot be attributed to one case.)
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Sequence

import psutil

from .canary import CANARY
from .cases import Case
from .http import RawRequest, Reply, send
from .results import Answer, CaseResult, NeighbourAnswer
from .served import Served
from .traffic import Good, body_kind, error_fields, media_type, neighbours, parse_results, same_answer
from .verdicts import judge_case

HANDLER_ERRORS = frozenset(
    {"InvalidInput", "NotAcceptable", "PayloadTooLarge", "UnsupportedMediaType", "InternalError"}
)
"""Error types only our handler produces (TorchServe's own end in `Exception`)."""
BATCH_FAILURES = frozenset({"Worker died.", "Prediction failed", "Worker died"})
LOG_DEADLINE = 10.0


class HarnessError(RuntimeError):
    """The suite itself cannot measure (e.g. a good request alone did not get a 200): not a server verdict."""


def send_together(url: str, requests: Sequence[RawRequest], timeout: float) -> list[Reply]:
    """Send every request on its own connection, all released at the same moment; replies in the same order."""
    replies: list[Reply | None] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def one(index: int) -> None:
        barrier.wait()
        replies[index] = send(url, requests[index], timeout)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    return [reply or Reply(error="thread-hung") for reply in replies]


def references(served: Served, goods: Sequence[Good], timeout: float) -> dict[str, list[tuple[str, float]]]:
    """The answer each good request gets alone (the long batch delay makes each take that long)."""
    found = {}
    for good in {g.name: g for g in goods}.values():
        offset = served.model_log_lines()
        reply = send(served.url, good.request, timeout)
        _await_batch_lines(served, offset, 1)  # so that no later case counts its batch line
        results = parse_results(reply) if reply.status == 200 else None
        if results is None or len(results) != good.results:
            raise HarnessError(f"good request {good.name} alone got {reply.status} {reply.body[:200]!r}")
        found[good.name] = results
    return found


def cpu_seconds(pids: Sequence[int]) -> dict[int, float]:
    found = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            found[pid] = times.user + times.system
        except psutil.Error:
            continue
    return found


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent by the processes alive at both ends (a process that died took its count with it)."""
    return sum(after[pid] - before[pid] for pid in before if pid in after)


def baseline_cpu(served: Served, refs: dict, timeout: float, runs: int = 3) -> float:
    """Median worker CPU of a batch of good requests only: what a case costs without its bad input."""
    goods = neighbours(served.limits.batch_size)
    samples = []
    for _ in range(runs):
        pids, offset = served.worker_pids(), served.model_log_lines()
        before = cpu_seconds(pids)
        replies = send_together(served.url, [g.request for g in goods], timeout)
        _await_batch_lines(served, offset, len(goods))
        bad = [g.name for g, r in zip(goods, replies, strict=True) if not same_answer(refs[g.name], parse_results(r))]
        if bad:
            raise HarnessError(f"good requests batched together got other answers: {bad}")
        samples.append(spent(before, cpu_seconds(pids)))
    return statistics.median(samples)


def run_case(served: Served, case: Case, refs: dict, baseline: float, timeout: float) -> CaseResult:
    """Send `case` with neighbours, wait for the handler's log line of that batch, and judge the outcome."""
    goods = neighbours(served.limits.batch_size - case.copies)
    pids = served.worker_pids()
    cpu_before, frontend = cpu_seconds(pids), served.frontend_pid()
    frontend_before = cpu_seconds([frontend] if frontend else [])
    offset = served.model_log_lines()
    replies = send_together(served.url, [case.request] * case.copies + [g.request for g in goods], timeout)
    bad_replies, good_replies = replies[: case.copies], replies[case.copies :]
    reached = sum(_reached_handler(r) for r in replies)
    batches = _await_batch_lines(served, offset, reached)
    pids_after = served.worker_pids()
    restarted = set(pids_after) != set(pids) or len(pids_after) < len(pids)
    worker_cpu = spent(cpu_before, cpu_seconds(pids))
    good_share = len(goods) / len(replies)  # the baseline is a whole batch of good requests
    result = CaseResult(
        name=case.name, source=case.source, what=case.what, server=case.server, size=case.size,
        expected=sorted(case.statuses), bad=[answer(r) for r in bad_replies],
        neighbours=[_neighbour(g, r, refs) for g, r in zip(goods, good_replies, strict=True)],
        echoed=any(CANARY.encode() in r.body for r in bad_replies),
        shared_batch=_shared(bad_replies, replies, batches, reached),
        handler_batches=len(batches),
        handler_requests=sum(requests for requests, _, _ in batches),
        worker_cpu_seconds=worker_cpu, cost_cpu_seconds=max(worker_cpu - baseline * good_share, 0.0),
        frontend_cpu_seconds=spent(frontend_before, cpu_seconds(list(frontend_before))), restarted=restarted,
        cost_bound=case.cost_bound, frontend_limit=case.frontend_limit,
    )  # fmt: skip
    if restarted or served.worker_pids() != pids_after:
        result.restarted = True
        offset = served.model_log_lines()
        result.recovery_seconds = served.wait_ready()
        _await_batch_lines(served, offset, 1)  # the warm-up's line, before the next case counts lines
    result.problems = judge_case(case, result)
    return result


def answer(reply: Reply) -> Answer:
    error = error_fields(reply) if reply.status != 200 else None
    message = str(error.get("message")) if error else None
    return Answer(
        status=reply.status,
        seconds=round(reply.seconds, 4),
        body_kind=body_kind(reply),
        error=reply.error,
        error_type=str(error.get("type")) if error else None,
        message=message.replace(CANARY, "<CANARY>")[:200] if message else None,
        media_type=media_type(reply.content_type),
        results=result_count(reply),
    )


def result_count(reply: Reply) -> int | None:
    results = parse_results(reply) if reply.status == 200 else None
    return None if results is None else len(results)


def _neighbour(good: Good, reply: Reply, refs: dict) -> NeighbourAnswer:
    same = reply.status == 200 and same_answer(refs[good.name], parse_results(reply))
    return NeighbourAnswer(good.name, reply.status, round(reply.seconds, 4), same, reply.error)


def _reached_handler(reply: Reply) -> bool:
    """The handler answered it (a result or one of our typed errors), so its batch was counted."""
    if reply.status == 200:
        return True
    error = error_fields(reply)
    return bool(error and error.get("type") in HANDLER_ERRORS)


def _await_batch_lines(served: Served, offset: int, reached: int) -> list[tuple[int, int, int]]:
    """(requests, texts, errors) of the handler's batch lines after line `offset` of model_log.log, once they hold
    the `reached` requests (the worker's output reaches the log shortly after the answers); what is there at the
    deadline otherwise."""
    deadline = time.monotonic() + (LOG_DEADLINE if reached else 0.0)
    while True:
        lines = served.batch_lines(offset)
        if sum(requests for requests, _, _ in lines) >= reached or time.monotonic() >= deadline:
            return lines
        time.sleep(0.1)  # polling interval; the deadline bounds the wait


def _shared(bad: list[Reply], replies: list[Reply], batches: list[tuple[int, int, int]], reached: int) -> str:
    if all(_reached_handler(r) for r in bad):
        one_batch = len(batches) == 1 and batches[0][0] == len(replies)
        return "yes" if one_batch else ("no" if reached == len(replies) else "unknown")
    failures = [r for r in replies if _batch_failure(r)]
    if any(_batch_failure(r) for r in bad) and len(failures) > 1:
        return "failed-together"
    return "refused" if reached == len(replies) - len(bad) else "unknown"


def _batch_failure(reply: Reply) -> bool:
    error = error_fields(reply)
    return reply.status >= 500 and bool(error) and str(error.get("message", "")).strip() in BATCH_FAILURES
