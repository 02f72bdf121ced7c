"""Stopping the SageMaker entrypoint (issue 11, point 4): SIGTERM with requests in flight must answer every
accepted request and exit 0 within 30 s; the Java frontend dying must make the entrypoint exit non-zero."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from tools.server import wait_for

from .entrypoint import Entrypoint
from .http import Reply
from .neighbours import send_together
from .results import DrainResult, FrontendDeathResult
from .traffic import long_text, plain_json_list
from .verdicts import STOP_DEADLINE_SECONDS, judge_drain, judge_frontend_death


@dataclass(frozen=True)
class DrainPlan:
    in_flight: int = 12
    """As the issue measured: 12 requests in flight when SIGTERM arrives."""
    texts_per_request: int = 8
    """Long texts per request, so the requests are still queued or running when the signal comes."""
    exit_deadline_seconds: float = STOP_DEADLINE_SECONDS + 10
    """How long to wait for an exit before calling it a failure (the contract is 30 s)."""


def drain(model_dir: Path, plan: DrainPlan, log_dirs: list[Path]) -> DrainResult:
    serve = Entrypoint.start(model_dir)
    log_dirs.append(serve.workdir)
    replies: list[Reply] = []
    try:
        request = plain_json_list([long_text(400)] * plan.texts_per_request)
        before = serve.accepted()
        sender = threading.Thread(
            target=lambda: replies.extend(send_together(serve.invocations, [request] * plan.in_flight, 120)),
            daemon=True,
        )
        sender.start()
        wait_for(lambda: serve.accepted() >= before + plan.in_flight, 60, "the frontend to accept every request")
        signalled = time.perf_counter()
        code, seconds = serve.signal_and_wait(signal.SIGTERM, plan.exit_deadline_seconds)
        sender.join(150)
    finally:
        serve.kill()
    statuses = Counter(str(reply.status) if reply.status else (reply.error or "none") for reply in replies)
    result = DrainResult(
        in_flight=plan.in_flight,
        answered=sum(reply.status != 0 for reply in replies),
        statuses=dict(statuses),
        exit_code=code,
        exit_seconds=seconds,
        unanswered_at_signal=unanswered_at(replies, signalled, plan.in_flight),
    )
    result.problems = judge_drain(result)
    return result


def unanswered_at(replies: list[Reply], moment: float, sent: int) -> int:
    """Of `sent` requests, those whose exchange had not ended at `moment` (`perf_counter`); a request without a
    reply (its thread hung) had not either."""
    return sent - sum(reply.finished <= moment for reply in replies if reply.finished)


def frontend_death(
    model_dir: Path, log_dirs: list[Path], deadline: float = STOP_DEADLINE_SECONDS
) -> FrontendDeathResult:
    serve = Entrypoint.start(model_dir)
    log_dirs.append(serve.workdir)
    try:
        java = serve.frontend()
        if java is None:
            raise RuntimeError("no Java frontend under the entrypoint")
        started = time.monotonic()
        java.kill()
        code, seconds = serve.wait_exit(started, deadline)
    finally:
        serve.kill()
    result = FrontendDeathResult(exit_code=code, exit_seconds=seconds)
    result.problems = judge_frontend_death(result)
    return result
