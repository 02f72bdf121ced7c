"""The report's sections after the summary (bad inputs, overload, faults, soak, canary, notes), one function each:
a `RunResult` in, markdown lines out."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from .report_format import counts, duration, message, recorded, seconds, table
from .results import CaseResult, LoadSummary, RunResult
from .verdicts import (
    CPU_BOUND_SECONDS,
    FAST_REJECTION_SECONDS,
    QUEUE_SLACK,
    RSS_GROWTH_LIMIT,
    SHARED,
    neighbours_evidence,
)


def statuses(run: LoadSummary) -> str:
    return ", ".join(f"{status}: {count}" for status, count in run.statuses.items())


def answer(case: CaseResult) -> str:
    statuses = Counter(str(a.status) if a.status else (a.error or "none") for a in case.bad)
    kinds = ",".join(sorted({a.body_kind for a in case.bad}))
    return " ".join(f"{count}×{status}" if count > 1 else status for status, count in statuses.items()) + f" ({kinds})"


def neighbours_ok(case: CaseResult) -> str:
    """`ok/n` where the neighbours shared the bad input's batch; else the count and why it proves nothing."""
    ok = f"{len(case.neighbours) - len(case.harmed)}/{len(case.neighbours)}"
    evidence = neighbours_evidence(case)
    return ok if evidence == SHARED else f"{ok} ({evidence})"


def cases_section(result: RunResult) -> list[str]:
    if not result.cases:
        return []
    rows = [
        (
            f"`{case.name}`", case.source, case.what, f"{case.size:,}", "/".join(map(str, case.expected)),
            answer(case), neighbours_ok(case), case.shared_batch,
            f"{max(a.seconds for a in case.bad):.2f}", f"{case.cost_cpu_seconds:.2f}",
            "**yes**" if case.restarted else "no",
            "; ".join(case.problems)
            or ("TorchServe frontend limit (docs/reliability.md)" if case.frontend_limit else "holds"),
        )
        for case in result.cases
    ]  # fmt: skip
    return [
        "## Bad inputs, each sent with good neighbours",
        "",
        "Each kind is sent at the same moment as good requests (several formats, each with a known answer alone) "
        "so that together they fill exactly one batch (`batchSize`) of a model registered with a long "
        "`maxBatchDelay`. *batch* is the proof from the handler's own line per batch in model_log.log "
        "(`batch requests=N ...`): `yes` = one batch held every request; `refused` = TorchServe's frontend answered "
        "the bad request before batching (the neighbours still shared one); `failed-together` = the batch failed as "
        "a whole (the handler logs nothing then). *neighbours ok* = 200 with the same answer as alone; it counts as "
        "evidence only where the batch is `yes` or `failed-together` (otherwise the reason follows). *wall* = "
        "seconds until the bad request's answer. *CPU* = worker CPU seconds of the case minus an all-good batch's "
        f"(bound: {CPU_BOUND_SECONDS:.0f} s for bad input).",
        "",
        *table(
            (
                "case",
                "source",
                "what",
                "bytes",
                "expected",
                "got",
                "neighbours ok",
                "batch",
                "wall s",
                "CPU s",
                "restart",
                "problems",
            ),
            rows,
        ),
        *worst_batches_section(result),
    ]


def worst_batches_section(result: RunResult) -> list[str]:
    """Whole batches of heavy requests: the measured worst case that `responseTimeout` must cover."""
    timeout = result.limits.get("response_timeout_s")
    lines = [
        f"- `{case.name}` ({case.server} settings): the batch of {len(case.bad)} took "
        f"{max(a.seconds for a in case.bad):.1f} s of wall time and {case.worker_cpu_seconds:.1f} s of worker CPU "
        f"(responseTimeout: {timeout} s); answers {answer(case)}."
        for case in result.cases
        if len(case.bad) > 1
    ]
    return (
        ["Worst admissible batches measured (for deriving `responseTimeout` and the caps):", "", *lines, ""]
        if lines
        else []
    )


def overload_section(result: RunResult) -> list[str]:
    over = result.overload
    if not over:
        return []
    rows = [
        (run.label, f"{run.offered_rate:.0f} / {run.sent_rate:.0f}" if run.offered_rate else "closed loop",
         seconds(run.deadline_seconds) if run.deadline_seconds else "-", run.sent,
         statuses(run),
         *(seconds(run.latency.get(s, {}).get(q), 2) for s in ("200", "503") for q in ("p50", "p99")),
         run.queue.get("max_pending", "-"), "; ".join(p.removeprefix(run.label + ": ") for p in run.problems) or "-")
        for run in over.runs
    ]  # fmt: skip
    return [
        "## Overload",
        "",
        f"Sustainable rate: **{over.sustainable_rate:.1f} requests/s** (closed loop, {over.concurrency} clients, one "
        f"~300-token text per request). Then an open loop at 4x that rate; every request has a deadline (a request "
        f"past it counts as `timeout`, a hang): {over.client_deadline_seconds:.0f} s, or {QUEUE_SLACK}x the time the "
        "queue and the running batches take at the measured rate where that is longer (a slow or shared host). "
        f"With the configured queue that was **{over.deadline_seconds:.1f} s**. A 503 must be fast: 99% within "
        f"{FAST_REJECTION_SECONDS:.0f} s.",
        "",
        *table(
            (
                "run",
                "offered / sent per s",
                "deadline",
                "sent",
                "statuses",
                "200 p50",
                "200 p99",
                "503 p50",
                "503 p99",
                "max queued",
                "problems",
            ),
            rows,
        ),
        f"A request right after the overload: {over.after_status or 'no answer'}; the first 200 came "
        f"{seconds(over.after_seconds)} after the overload ended. Problems: {'; '.join(over.problems) or 'none'}.",
        "",
        "**Queue full vs no worker.** TorchServe 0.12 sends the same 503 for both (`ApiUtils.addRESTInferenceJob`: "
        "`ModelManager.addJob` is false when the model has no worker *or* the job queue refuses the job). "
        f"Queue full: `503 {message(over.queue_full_message)}`. No worker (scaled to 0): "
        f"`{message(over.no_worker_message)}`; /ping then answered `{message(over.no_worker_ping)}`. A client "
        "cannot tell them apart from the answer; an operator can: the "
        "management API's `jobQueueStatus.remainingCapacity` is 0 when the queue is full, and `workers` is empty "
        "when there is no worker.",
        "",
        f"**Proposal:** {', '.join(f'`{k}: {v}`' for k, v in over.proposal.items())} = the sustainable rate x 2 s, so "
        "a queued request waits about 2 s at most at capacity and everything beyond gets a fast 503. "
        "`clientTimeoutInMills` does not help: TorchServe drops an expired job from the queue *without answering it* "
        '(`Model.pollBatch`: "Drop inference request ... due to client timeout"), so its client waits until its '
        "own timeout; see the run with it above.",
        "",
    ]


def faults_section(result: RunResult) -> list[str]:
    lines = ["## Faults", ""]
    if result.kill:
        kill = result.kill
        lines += [
            f"**Worker SIGKILL under load** (closed loop, {kill.batch_size * 2} clients): pid {kill.killed_pid} "
            f"killed; {kill.failed} requests failed ({statuses(kill.load)}); a replacement worker "
            f"(pid {kill.new_pid}) was READY and answering {seconds(kill.recovery_seconds)} after the kill. Only the "
            f"killed worker's batch (at most {kill.batch_size} requests) may fail. Meanwhile /ping answered "
            f"Unhealthy for {kill.ping_unhealthy_seconds:.1f} s. Problems: {'; '.join(kill.problems) or 'none'}.",
            "",
        ]
    if result.unloadable:
        rows = [
            (run.max_retry_timeout_s, run.startup_timeout_s, seconds(run.first_failure_seconds),
             seconds(run.healthy_seconds), "; ".join(run.problems) or "holds")
            for run in result.unloadable
        ]  # fmt: skip
        lines += [
            "**A model that cannot load** (the archive without model.safetensors, the only model at start):",
            "",
            *table(
                ("maxRetryTimeoutInSec", "startupTimeout", "first load failed after", "/ping Healthy for", "problems"),
                rows,
            ),
            "Why: TorchServe 0.12 marks a worker unhealthy only when `now - recoveryStartTS >= maxRetryTimeoutInSec` "
            "(`WorkerThread.isHealthy`), and `recoveryStartTS` is set when the worker first *stops* "
            "(`WorkerThread.setState(WORKER_STOPPED)`), not at start. So /ping says Healthy for the first load "
            "attempt plus `maxRetryTimeoutInSec`. Settings that keep it within 30 s: `maxRetryTimeoutInSec` ≤ 30 s "
            "minus the first failure (measured above). A load that *hangs* fails only after `startupTimeout`, so that "
            "case is bounded by `startupTimeout + maxRetryTimeoutInSec`.",
            "",
        ]
    if result.drain:
        drain = result.drain
        lines += [
            f"**SIGTERM to the SageMaker entrypoint** with {drain.in_flight} requests accepted by the frontend, "
            f"{recorded(drain.unanswered_at_signal)} of them still unanswered at the signal: "
            f"answers {counts(drain.statuses)}; exit status {drain.exit_code} after {seconds(drain.exit_seconds)}. "
            f"Problems: {'; '.join(drain.problems) or 'none'}.",
            "",
        ]
    if result.frontend_death:
        death = result.frontend_death
        lines += [
            f"**TorchServe's Java frontend SIGKILLed** under the entrypoint: it exited with status {death.exit_code} "
            f"after {seconds(death.exit_seconds)}. Problems: {'; '.join(death.problems) or 'none'}.",
            "",
        ]
    return lines if len(lines) > 2 else []


def soak_section(result: RunResult) -> list[str]:
    soak = result.soak
    if not soak:
        return []
    rows = [
        (pid, f"{samples[0]:.0f}", f"{samples[-1]:.0f}", f"{(samples[-1] - samples[0]) / samples[0]:+.1%}",
         soak.fds.get(pid, ["-"])[0], soak.fds.get(pid, ["-"])[-1])
        for pid, samples in soak.rss_mb.items() if samples
    ]  # fmt: skip
    return [
        "## Soak",
        "",
        f"{duration(soak.seconds)} of mixed traffic (every valid format, one request in ten a small bad input from "
        f"the catalog) at {soak.rate:.1f} requests/s, about half of capacity: {soak.load.sent} requests, "
        f"{statuses(soak.load)}. Unexpected for their kind: {counts(soak.unexpected) or 'none'}. RSS and open "
        f"files sampled after the warm-up (the first fifth); growth limit {RSS_GROWTH_LIMIT:.0%} for RSS, none "
        "for file descriptors.",
        "",
        *table(("process", "RSS MiB first", "RSS MiB last", "growth", "fds first", "fds last"), rows),
        f"Problems: {'; '.join(soak.problems) or 'none'}.",
        "",
    ]


def canary_section(result: RunResult) -> list[str]:
    canary = result.canary
    if not canary:
        return []
    groups = Counter((Path(hit["path"]).name, hit["form"], signature(hit["excerpt"])) for hit in canary.hits)
    rows = [(name, form, count, f"`{signature}`") for (name, form, signature), count in sorted(groups.items())]
    lines = [
        "## Privacy canary",
        "",
        f"Every text the suite sent (every format, every error path above) held the canary `{canary.canary}`. After "
        f"the run, {len(canary.files)} log files (TorchServe's logs and stdout of every server, the SageMaker "
        f"entrypoint's) were searched for it as text, UTF-16/32 and hex: **{len(canary.hits)} hits**.",
        "",
    ]
    if rows:
        lines += table(("file", "form", "lines", "what wrote it (canary masked, numbers as #)"), rows)
    return lines


def signature(excerpt: str) -> str:
    """A hit's line without its timestamp, ports, ids and counts, so the same code path groups together."""
    text = re.sub(r"^.*?(\[[A-Z]+ *\]|ACCESS_LOG|Exception)", r"\1", excerpt, count=1)
    return re.sub(r"\d+", "#", text)[:140]


def notes_section(result: RunResult) -> list[str]:
    if not result.errors:
        return []
    return ["## Not measured", "", *(f"- {error}" for error in result.errors), ""]
