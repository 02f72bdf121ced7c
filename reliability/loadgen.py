"""Load with deadlines, from `aiohttp` clients: open loop (a fixed arrival rate, whatever the server does) and
closed loop (N clients, each sending when its last answer came).

Bounded in count and time: no request starts after `seconds`, and every request is given up after `deadline`
seconds (recorded as `timeout`, a hang). Each request is tagged with its kind, so mixed traffic can be judged per
kind.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from bench.load import percentile

from .http import RawRequest
from .results import LoadSummary

MAX_CONNECTIONS = 1024


@dataclass(frozen=True)
class Tagged:
    """A request of the mix and the statuses its kind allows."""

    kind: str
    request: RawRequest
    allowed: frozenset[int] = frozenset({200})


@dataclass(frozen=True)
class Outcome:
    kind: str
    status: str
    """The HTTP status as text, or `timeout` / `reset` / an exception name."""
    seconds: float
    sent_at: float
    """Seconds after the run started."""
    detail: str | None = None
    """The start of a non-200 answer's body (what the server said)."""


def open_loop(url: str, mix: Sequence[Tagged], rate: float, seconds: float, deadline: float) -> list[Outcome]:
    """Send `mix` round-robin at `rate` requests per second for `seconds`."""
    return asyncio.run(_open_loop(url, mix, rate, seconds, deadline))


def closed_loop(url: str, mix: Sequence[Tagged], clients: int, seconds: float, deadline: float) -> list[Outcome]:
    """`clients` clients sending `mix` round-robin back to back for `seconds`."""
    return asyncio.run(_closed_loop(url, mix, clients, seconds, deadline))


async def _open_loop(url, mix, rate, seconds, deadline) -> list[Outcome]:
    import aiohttp

    outcomes: list[Outcome] = []
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        tasks = []
        for index in range(int(rate * seconds)):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)  # the arrival schedule, not synchronisation
            item = mix[index % len(mix)]
            tasks.append(asyncio.create_task(_one(session, url, item, deadline, started, outcomes)))
        await asyncio.gather(*tasks)
    return outcomes


async def _closed_loop(url, mix, clients, seconds, deadline) -> list[Outcome]:
    import aiohttp

    outcomes: list[Outcome] = []
    counter = iter(range(10**9))
    connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()

        async def client() -> None:
            while time.perf_counter() - started < seconds:
                await _one(session, url, mix[next(counter) % len(mix)], deadline, started, outcomes)

        await asyncio.gather(*(client() for _ in range(clients)))
    return outcomes


async def _one(session, url: str, item: Tagged, deadline: float, started: float, outcomes: list[Outcome]) -> None:
    import aiohttp

    request = item.request
    sent = time.perf_counter()
    target = url + request.path if not request.path.startswith("/") else url.split("/predictions")[0] + request.path
    # aiohttp would add `Content-Type: application/octet-stream` to a request that has none on purpose
    skip = () if request.header("Content-Type") else ("Content-Type",)
    detail = None
    try:
        timeout = aiohttp.ClientTimeout(total=deadline)
        async with session.request(
            request.method,
            target,
            data=request.body,
            headers=list(request.headers),
            timeout=timeout,
            skip_auto_headers=skip,
        ) as response:
            body = await response.read()
            status = str(response.status)
            detail = None if response.status == 200 else body[:300].decode("utf-8", "replace")
    except asyncio.TimeoutError:
        status = "timeout"
    except aiohttp.ClientError as error:
        status = type(error).__name__
    outcomes.append(Outcome(item.kind, status, time.perf_counter() - sent, sent - started, detail))


def summarise(label: str, outcomes: Sequence[Outcome], offered_rate: float = 0.0) -> LoadSummary:
    """Counts per status and p50/p99/max latency per status."""
    statuses = Counter(outcome.status for outcome in outcomes)
    latency = {}
    for status in statuses:
        values = [outcome.seconds for outcome in outcomes if outcome.status == status]
        latency[status] = {"p50": percentile(values, 50), "p99": percentile(values, 99), "max": max(values)}
    first = min((o.sent_at for o in outcomes), default=0.0)
    span = max((o.sent_at + o.seconds for o in outcomes), default=0.0) - first
    sending = max((o.sent_at for o in outcomes), default=0.0) - first
    return LoadSummary(
        label=label,
        offered_rate=offered_rate,
        seconds=round(span, 3),
        sent=len(outcomes),
        statuses=dict(sorted(statuses.items())),
        latency=latency,
        answered_rate=statuses.get("200", 0) / span if span else 0.0,
        sent_rate=(len(outcomes) - 1) / sending if sending else 0.0,
    )


def unexpected(outcomes: Sequence[Outcome], mix: Sequence[Tagged]) -> dict[str, int]:
    """`kind:status` counts of answers whose status their kind does not allow."""
    allowed = {item.kind: {str(status) for status in item.allowed} for item in mix}
    return dict(Counter(f"{o.kind}:{o.status}" for o in outcomes if o.status not in allowed[o.kind]))
