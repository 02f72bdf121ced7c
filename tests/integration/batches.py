"""Send requests so that TorchServe hands them to the handler as one batch, and prove that it did.

The handler logs one line per batch (`batch requests=N texts=T errors=E ...`, `bert_classifier.service`), which
TorchServe relays to model_log.log. A burst of concurrent requests usually lands in one batch, but TorchServe
waits only `maxBatchDelay` for a batch to fill (5 ms as shipped) and hands a batch to the first free worker, so a
burst may be split; `send_in_one_batch` then sends it again until one attempt was a single batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from reliability.served import BATCH_LINE
from tools.server import LocalTorchServe, wait_for

LOG_DEADLINE = 30.0


@dataclass(frozen=True)
class Batch:
    """What the handler's log line says about one batch."""

    requests: int
    texts: int
    errors: int


def batches_after(server: LocalTorchServe, offset: int) -> list[Batch]:
    """The batches logged after `offset` characters of model_log.log."""
    return [Batch(*map(int, match)) for match in BATCH_LINE.findall(server.model_log()[offset:])]


def send_in_one_batch(
    server: LocalTorchServe, sends: Sequence[Callable[[], requests.Response]], deadline: float = 120.0
) -> tuple[list[requests.Response], Batch]:
    """Run every `send` at the same moment, repeating until the handler logged all of them as one batch; return
    that attempt's responses (in `sends` order) and its batch.

    Every request must reach the handler (the frontend's own refusals never make a batch line)."""
    give_up = time.monotonic() + deadline
    seen: list[list[Batch]] = []
    while time.monotonic() < give_up:
        responses, batches = _send_together(server, sends)
        shared = [batch for batch in batches if batch.requests == len(sends)]
        if shared:
            return responses, shared[0]
        seen.append(batches)
    raise AssertionError(f"{len(sends)} concurrent requests never shared one batch; batches per attempt: {seen}")


def _send_together(
    server: LocalTorchServe, sends: Sequence[Callable[[], requests.Response]]
) -> tuple[list[requests.Response], list[Batch]]:
    """One attempt: a thread per request, released together by a barrier; then the batches that handled them."""
    offset = len(server.model_log())
    barrier = threading.Barrier(len(sends))

    def together(send: Callable[[], requests.Response]) -> requests.Response:
        barrier.wait(timeout=30)
        return send()

    with ThreadPoolExecutor(max_workers=len(sends)) as pool:
        responses = list(pool.map(together, sends))

    def all_logged() -> list[Batch] | None:
        batches = batches_after(server, offset)
        return batches if sum(batch.requests for batch in batches) >= len(sends) else None

    return responses, wait_for(all_logged, LOG_DEADLINE, "the batch log lines")
