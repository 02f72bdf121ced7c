"""Closed-loop HTTP load with aiohttp: N clients, each sending its next request when the last one answered.

Bounded twice: at most `max_requests` requests are started and none after `max_seconds`; requests still in
flight then get `drain_seconds` more to answer, after which they are cancelled and counted as `unfinished`
(neither answers nor errors), so a run never takes longer than `max_seconds + drain_seconds`.
"""

from __future__ import annotations

import asyncio
import json
import math
import resource
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field


def percentile(values: Sequence[float], q: float) -> float:
    """The `q`-th percentile (0..100) with linear interpolation between closest ranks (numpy's default);
    NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError("q must be in [0, 100]")
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


@dataclass
class LoadResult:
    """One closed-loop run at one concurrency."""

    concurrency: int
    requests: int = 0
    """Requests answered with HTTP 200."""
    texts: int = 0
    tokens: int = 0
    """Model tokens of the texts answered with 200 (for the achieved FLOP/s)."""
    flops: float = 0.0
    errors: Counter = field(default_factory=Counter)
    """Non-200 answers and client-side failures, by status or exception name."""
    seconds: float = 0.0
    """From the first request sent to the last answer received."""
    latencies: list[float] = field(default_factory=list)
    unfinished: int = 0
    """Requests still unanswered when the drain time ran out (cancelled)."""
    client_cpu_seconds: float = 0.0
    """CPU time the load generator itself used (it shares the machine with the server)."""
    foreign_cores: float = 0.0
    """Cores busy with processes other than this one and its children (the server) during the run."""

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def texts_per_second(self) -> float:
        return self.texts / self.seconds if self.seconds else 0.0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def flops_per_second(self) -> float:
        return self.flops / self.seconds if self.seconds else 0.0

    def latency(self, q: float) -> float:
        return percentile(self.latencies, q)


@dataclass(frozen=True)
class Payload:
    """One request body, pre-encoded, with what it is worth (texts, tokens, FLOPs) when answered."""

    body: bytes
    texts: int = 1
    tokens: int = 0
    flops: float = 0.0


def json_payloads(
    texts: Sequence[str], tokens: Sequence[int] = (), flops: Sequence[float] = (), pairs: Sequence[str] = ()
) -> list[Payload]:
    """One `{"text": ...}` request per text (`{"text": ..., "text_pair": ...}` with `pairs`)."""
    bodies = [{"text": text, "text_pair": pairs[i]} if pairs else {"text": text} for i, text in enumerate(texts)]
    return [
        Payload(json.dumps(body).encode(), 1, tokens[i] if tokens else 0, flops[i] if flops else 0.0)
        for i, body in enumerate(bodies)
    ]


def grouped_payloads(payloads: Sequence[Payload], size: int) -> list[Payload]:
    """`{"data": [...]}` requests of `size` texts each, made of the `{"text"}` bodies of `payloads` in order."""
    groups = [payloads[start : start + size] for start in range(0, len(payloads) - size + 1, size)]
    return [
        Payload(
            json.dumps({"data": [json.loads(p.body)["text"] for p in group]}).encode(),
            size,
            sum(p.tokens for p in group),
            sum(p.flops for p in group),
        )
        for group in groups
    ]


async def _run(
    url: str,
    payloads: Sequence[Payload],
    concurrency: int,
    max_requests: int,
    max_seconds: float,
    drain_seconds: float,
    timeout: float,
) -> LoadResult:
    import aiohttp

    result = LoadResult(concurrency)
    next_index = 0
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
        started = time.perf_counter()
        deadline = started + max_seconds
        last_answer = started
        answered_count = 0

        async def client() -> None:
            nonlocal next_index, last_answer, answered_count
            while next_index < max_requests and time.perf_counter() < deadline:
                payload = payloads[next_index % len(payloads)]
                next_index += 1
                sent = time.perf_counter()
                try:
                    async with session.post(url, data=payload.body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                    status = type(error).__name__
                answered = time.perf_counter()
                answered_count += 1
                last_answer = max(last_answer, answered)
                if status == 200:
                    result.requests += 1
                    result.texts += payload.texts
                    result.tokens += payload.tokens
                    result.flops += payload.flops
                    result.latencies.append(answered - sent)
                else:
                    result.errors[str(status)] += 1

        try:
            await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), max_seconds + drain_seconds)
            result.seconds = last_answer - started
        except asyncio.TimeoutError:
            result.unfinished = next_index - answered_count  # cancelled while waiting for their answer
            result.seconds = time.perf_counter() - started
    return result


def run_load(
    url: str,
    payloads: Sequence[Payload],
    concurrency: int,
    *,
    max_requests: int = 10_000,
    max_seconds: float = 5.0,
    drain_seconds: float = 10.0,
    timeout: float = 60.0,
) -> LoadResult:
    """Closed-loop load on `url`: `concurrency` clients POST `payloads` in order (cycling), bounded as above."""
    if concurrency < 1 or not payloads:
        raise ValueError("need a positive concurrency and at least one payload")
    meter = CpuMeter()
    cpu_before = _cpu_seconds()
    result = asyncio.run(_run(url, payloads, concurrency, max_requests, max_seconds, drain_seconds, timeout))
    result.client_cpu_seconds = _cpu_seconds() - cpu_before
    result.foreign_cores = meter.foreign_cores()
    return result


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class CpuMeter:
    """How many cores *other* processes kept busy since it was created: the machine's busy time minus that of
    this process and its descendants (server, workers, pool processes), per second of wall time. On a shared
    machine this says which measurements were disturbed."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.system, self.own = _system_busy(), _tree_cpu()

    def foreign_cores(self) -> float:
        wall = time.perf_counter() - self.started
        if wall <= 0:
            return 0.0
        return max(0.0, ((_system_busy() - self.system) - (_tree_cpu() - self.own)) / wall)


def _system_busy() -> float:
    import psutil

    times = psutil.cpu_times()
    return (
        sum(times)
        - times.idle
        - getattr(times, "iowait", 0.0)
        - getattr(times, "guest", 0.0)
        - getattr(times, "guest_nice", 0.0)
    )


def _tree_cpu(with_self: bool = True) -> float:
    """CPU seconds of this process (unless `with_self` is False) and of its descendants."""
    import psutil

    me = psutil.Process()
    total = 0.0
    for process in me.children(recursive=True) + ([me] if with_self else []):
        try:
            times = process.cpu_times()
            total += times.user + times.system
        except psutil.Error:  # exited meanwhile
            continue
    return total
