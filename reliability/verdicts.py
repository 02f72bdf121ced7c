"""What each measurement must show (issue 11 "What must hold"), as pure functions from records to problems.

A problem is one sentence naming what broke the contract; none means it held. The report and the tests both use
these functions, so a case fails in `make test` for exactly the reason the report gives.
"""

from __future__ import annotations

from collections import Counter

from .cases import Case
from .results import (
    CanaryResult,
    CaseResult,
    DrainResult,
    FrontendDeathResult,
    KillResult,
    LoadSummary,
    OverloadResult,
    SoakResult,
    UnloadableResult,
)

CPU_BOUND_SECONDS = 1.0
"""Issue 11: any body under the size limit costs well under a second of worker CPU."""
RSS_GROWTH_LIMIT = 0.05
STOP_DEADLINE_SECONDS = 30.0
"""SageMaker kills a container 30 s after SIGTERM."""
UNHEALTHY_DEADLINE_SECONDS = 30.0
FAST_REJECTION_SECONDS = 1.0
"""A 503 for a full queue comes from TorchServe's frontend without waiting for a worker: 99% of them within this
(the committed run's were all within 0.07 s); a slow 503 would hold the client as long as a queued request."""
QUEUE_SLACK = 1.5
"""Under overload a request may wait for everything ahead of it (the queue and the running batches) at the measured
rate, with this much slack, before it counts as a hang: on a slow or shared host the client deadline stretches."""


SHARED = "shared"
REFUSED = "refused before batching"
NO_NEIGHBOURS = "no neighbours"
NOT_SHARED = "batch not shared"
BATCH_PROOFS = frozenset({"yes", "failed-together"})
"""`CaseResult.shared_batch` values that prove the bad input was batched with its neighbours."""


def neighbours_evidence(result: CaseResult) -> str:
    """What a case's neighbours can show about harm from its bad input: `SHARED` (they were in its batch, so
    their answers count, harmed or not), or why they cannot: `NO_NEIGHBOURS`, `REFUSED` (TorchServe's frontend
    answered the bad input before batching) or `NOT_SHARED` (it reached the handler in another batch, or no
    batch line proves where it went)."""
    if not result.neighbours:
        return NO_NEIGHBOURS
    if result.shared_batch in BATCH_PROOFS:
        return SHARED
    return REFUSED if result.shared_batch == "refused" else NOT_SHARED


def judge_case(case: Case, result: CaseResult) -> list[str]:
    per_copy = Counter(problem for answer in result.bad for problem in _judge_answer(case, answer))
    problems = [
        f"{count} of {len(result.bad)} copies: {p}" if len(result.bad) > 1 else p for p, count in per_copy.items()
    ]
    if result.echoed and not case.frontend_limit:
        problems.append("the answer quotes the request's text")
    harmed = result.harmed
    if harmed:
        what = ", ".join(sorted({str(n.status) if n.status != 200 else "other answer" for n in harmed}))
        problems.append(f"{len(harmed)} of {len(result.neighbours)} neighbours harmed ({what})")
    elif neighbours_evidence(result) == NOT_SHARED:
        problems.append(f"neighbours unharmed but not shown to share its batch (batch: {result.shared_batch})")
    if result.restarted:
        problems.append("a worker restarted")
    if case.cost_bound and result.cost_cpu_seconds > CPU_BOUND_SECONDS:
        problems.append(f"cost {result.cost_cpu_seconds:.1f} s of worker CPU (bound {CPU_BOUND_SECONDS:.0f} s)")
    return problems


def _judge_answer(case: Case, answer) -> list[str]:
    if answer.status == 0:
        if case.closes_ok and answer.error in ("reset", "closed"):
            return []
        return [f"no answer ({answer.error})"]
    expected = "|".join(map(str, sorted(case.statuses)))
    if answer.status not in case.statuses:
        said = f" {answer.error_type}: {answer.message}" if answer.message else f" ({answer.body_kind} body)"
        return [f"got {answer.status}{said}; expected {expected}"]
    problems = []
    if 400 <= answer.status < 500 and case.typed and answer.body_kind != "error":
        problems.append(f"{answer.status} without a JSON error body ({answer.body_kind})")
    if answer.status >= 400 and case.error_type and answer.error_type != case.error_type:
        problems.append(f"error type {answer.error_type}, expected {case.error_type}")
    if answer.status >= 400 and case.words and case.words.lower() not in (answer.message or "").lower():
        problems.append(f"message does not say '{case.words}'")
    if answer.status == 200 and case.results is not None and answer.results != case.results:
        problems.append(f"200 with {answer.results} results, expected {case.results}")
    if answer.status == 200 and case.answer_type and answer.media_type != case.answer_type:
        problems.append(f"answered as {answer.media_type or 'nothing'}, expected {case.answer_type}")
    return problems


def judge_load(summary: LoadSummary, allowed: frozenset[str], deadline: float) -> list[str]:
    """Only `allowed` statuses, none without an answer, each within `deadline` seconds."""
    problems = []
    unexpected = {status: count for status, count in summary.statuses.items() if status not in allowed}
    if unexpected:
        problems.append(f"{summary.label}: unexpected {_counts(unexpected)}")
    slow = {status: stats["max"] for status, stats in summary.latency.items() if stats.get("max", 0.0) > deadline}
    if slow:
        late = ", ".join(f"{status} up to {seconds:.1f} s" for status, seconds in sorted(slow.items()))
        problems.append(f"{summary.label}: answers past the {deadline:.0f} s deadline ({late})")
    return problems


def judge_overload(result: OverloadResult) -> list[str]:
    """Each 4x run gets its own problems (the variants show what another setting would do); the verdict is the
    configured queue's run and the request right after it."""
    for run in result.runs:
        if run.offered_rate:
            run.problems = judge_load(run, frozenset({"200", "503"}), run.deadline_seconds or result.deadline_seconds)
            run.problems += judge_rejections(run)
    configured = next((run for run in result.runs if run.offered_rate), None)
    problems = list(configured.problems) if configured else ["no overload run"]
    if result.after_status != 200:
        problems.append(f"right after the overload a request got {result.after_status or 'no answer'}")
    return problems


def judge_rejections(summary: LoadSummary) -> list[str]:
    """The run's 503s were fast: their 99th percentile within `FAST_REJECTION_SECONDS`."""
    p99 = summary.latency.get("503", {}).get("p99", 0.0)
    if p99 <= FAST_REJECTION_SECONDS:
        return []
    return [f"{summary.label}: slow 503s (p99 {p99:.2f} s, bound {FAST_REJECTION_SECONDS:.0f} s)"]


KILLED_BATCH_STATUSES = frozenset({"500", "503", "507"})
"""What TorchServe answers the requests of a worker that died: 500 "Worker died.", or 507 when the worker's exit
status was 137 (SIGKILL, which TorchServe takes for the out-of-memory killer), or 503 while it restarts."""


def judge_kill(result: KillResult) -> list[str]:
    problems = judge_load(result.load, frozenset({"200"}) | KILLED_BATCH_STATUSES, float("inf"))
    if result.failed > result.batch_size:
        problems.append(f"{result.failed} requests failed; only the killed worker's batch ({result.batch_size}) may")
    if result.recovery_seconds is None:
        problems.append("no replacement worker answered")
    return problems


def judge_unloadable(result: UnloadableResult) -> list[str]:
    if result.healthy_seconds is None:
        return [f"/ping never turned unhealthy within {result.deadline_seconds:.0f} s"]
    if result.healthy_seconds > UNHEALTHY_DEADLINE_SECONDS:
        return [f"/ping said Healthy for {result.healthy_seconds:.0f} s (limit {UNHEALTHY_DEADLINE_SECONDS:.0f} s)"]
    return []


def judge_drain(result: DrainResult) -> list[str]:
    problems = []
    if not result.unanswered_at_signal:
        problems.append(f"no request was still unanswered at SIGTERM ({result.unanswered_at_signal} of "
                        f"{result.in_flight}): nothing was drained")  # fmt: skip
    lost = result.in_flight - result.statuses.get("200", 0)
    if lost:
        problems.append(f"{lost} of {result.in_flight} accepted requests lost ({_counts(result.statuses)})")
    if result.exit_code != 0:
        problems.append(f"exit status {result.exit_code}, expected 0")
    if result.exit_seconds is None or result.exit_seconds > STOP_DEADLINE_SECONDS:
        problems.append(f"did not exit within {STOP_DEADLINE_SECONDS:.0f} s")
    return problems


def judge_frontend_death(result: FrontendDeathResult) -> list[str]:
    if result.exit_code is None:
        return ["the entrypoint kept running after its frontend died"]
    return ["the entrypoint exited 0 after its frontend died"] if result.exit_code == 0 else []


def judge_soak(result: SoakResult) -> list[str]:
    problems = []
    if result.unexpected:
        problems.append(f"unexpected statuses: {_counts(result.unexpected)}")
    if result.rss_growth >= RSS_GROWTH_LIMIT:
        problems.append(f"worker RSS grew {result.rss_growth:.1%} after warm-up (limit {RSS_GROWTH_LIMIT:.0%})")
    if result.fd_growth > 0:
        problems.append(f"open file descriptors grew by {result.fd_growth}")
    if result.restarted:
        problems.append("a worker restarted")
    return problems


def judge_canary(result: CanaryResult) -> list[str]:
    if not result.hits:
        return []
    files = sorted({hit["path"].rsplit("/", 1)[-1] for hit in result.hits})
    return [f"{len(result.hits)} log lines hold the canary ({', '.join(files)})"]


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count}× {status}" for status, count in sorted(counts.items()))
