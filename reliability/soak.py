"""Soak (issue 11, point 5): mixed traffic at about half of capacity for a fixed time; no unexpected status, worker
RSS growth under 5% after warm-up, no growth in open file descriptors."""

from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass

import psutil

from .cases import Case
from .loadgen import Outcome, Tagged, open_loop, summarise, unexpected
from .results import SoakResult
from .served import Served
from .traffic import good_requests
from .verdicts import judge_soak

SOAK_SHARE = 0.5
"""Of the sustainable rate."""
BAD_EVERY = 10
"""One request in this many is a bad one from the catalog."""
SAMPLE_EDGE = 3
"""Samples averaged at each end of the soak when comparing RSS and open files."""
SMALL_CASE_BYTES = 64 * 1024


@dataclass(frozen=True)
class SoakPlan:
    seconds: float = 600.0
    warm_up_share: float = 0.2
    """The first part of the soak is warm-up: allocators and caches settle, nothing is compared."""
    sample_seconds: float = 5.0
    deadline_seconds: float = 10.0


def soak_mix(cases: list[Case], extra: list[Tagged]) -> list[Tagged]:
    """Every valid format, `extra` valid requests (longer texts), and every `BAD_EVERY`th request a small
    catalog case that any HTTP client can send, each allowed its own statuses."""
    goods = [Tagged(good.name, good.request) for good in good_requests()] + list(extra)
    bads = [Tagged(case.name, case.request, case.statuses) for case in cases if soakable(case)]
    mix = []
    for index in range(max(len(bads), 1) * (BAD_EVERY - 1)):
        mix.append(goods[index % len(goods)])
        if bads and index % (BAD_EVERY - 1) == BAD_EVERY - 2:
            mix.append(bads[index // (BAD_EVERY - 1)])
    return mix


def soakable(case: Case) -> bool:
    """Small, on the shipped server, alone, and plain HTTP (no hand-made framing or duplicate headers)."""
    request = case.request
    names = [key.lower() for key, _ in request.headers]
    return (
        case.server == "shipped" and case.copies == 1 and case.size <= SMALL_CASE_BYTES and case.cost_bound
        and not request.chunked and request.raw_body is None and len(names) == len(set(names))
        and request.method == "POST" and request.version == "HTTP/1.1"
    )  # fmt: skip


def soak(served: Served, mix: list[Tagged], rate: float, plan: SoakPlan) -> SoakResult:
    outcomes: list[Outcome] = []
    rss: dict[str, list[float]] = {}
    fds: dict[str, list[int]] = {}
    pids = served.worker_pids()
    frontend = served.frontend_pid()

    def load() -> None:
        outcomes.extend(open_loop(served.url, mix, rate, plan.seconds, plan.deadline_seconds))

    loader = threading.Thread(target=load, daemon=True)
    loader.start()
    loader.join(plan.seconds * plan.warm_up_share)  # warm-up, not sampled (returns early if the load ends)
    while loader.is_alive():
        _sample(pids, frontend, rss, fds)
        loader.join(plan.sample_seconds)  # the sampling interval (returns early when the load ends)
    restarted = set(served.worker_pids()) != set(pids)
    result = SoakResult(
        seconds=plan.seconds,
        rate=rate,
        load=summarise("soak", outcomes, rate),
        unexpected=unexpected(outcomes, mix),
        rss_mb=rss,
        fds=fds,
        rss_growth=max((growth(samples) for pid, samples in rss.items() if pid != "frontend"), default=0.0),
        fd_growth=int(max((grown(samples) for pid, samples in fds.items() if pid != "frontend"), default=0)),
        restarted=restarted,
    )
    result.problems = judge_soak(result)
    return result


def _sample(pids: list[int], frontend: int | None, rss: dict, fds: dict) -> None:
    for pid in [*pids, frontend]:
        if pid is None:
            continue
        key = "frontend" if pid == frontend else str(pid)
        try:
            process = psutil.Process(pid)
            rss.setdefault(key, []).append(round(process.memory_info().rss / 2**20, 1))
            fds.setdefault(key, []).append(process.num_fds())
        except psutil.Error:
            continue


def growth(samples: list[float]) -> float:
    """Relative growth from the first to the last few samples (each end averaged against noise)."""
    if len(samples) < 2:
        return 0.0
    edge = min(SAMPLE_EDGE, len(samples) // 2)
    first, last = statistics.mean(samples[:edge]), statistics.mean(samples[-edge:])
    return (last - first) / first if first else 0.0


def grown(samples: list[int]) -> float:
    """Absolute growth from the first to the last few samples (medians)."""
    if len(samples) < 2:
        return 0
    edge = min(SAMPLE_EDGE, len(samples) // 2)
    return statistics.median(samples[-edge:]) - statistics.median(samples[:edge])
