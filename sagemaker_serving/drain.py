"""Wait until TorchServe has answered every request it accepted: its job queues are empty and no worker is busy.

TorchServe has no drain of its own (stopping its frontend closes every open connection), so `serve` calls
`wait_until_idle` between SIGTERM and stopping it. The job queues come from the management API; busy workers
from the activity markers our handler writes (`bert_classifier.activity`). A batch is out of the queue but not
yet in a worker for at most `maxBatchDelay` plus a socket write, so "idle" must hold for `settle` seconds.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bert_classifier.activity import busy_workers

SETTLE_SECONDS = 0.3
POLL_SECONDS = 0.05


def wait_until_idle(
    management_url: str,
    activity_dir: Path,
    deadline: float,
    running: Callable[[], bool] = lambda: True,
    settle: float = SETTLE_SECONDS,
) -> bool:
    """True once TorchServe has been idle for `settle` seconds; False if `deadline` (monotonic) came first or it
    stopped `running`."""
    idle_since = None
    while time.monotonic() < deadline and running():
        if queued_requests(management_url) == 0 and busy_workers(activity_dir) == 0:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since >= settle:
                return True
        else:
            idle_since = None
        time.sleep(POLL_SECONDS)
    return False


def queued_requests(management_url: str) -> int:
    """Requests waiting in every model's job queue; 0 when the management API does not answer (a frontend that
    is gone has nothing left to answer)."""
    try:
        models = _get(f"{management_url}/models")["models"]
        return sum(
            version.get("jobQueueStatus", {}).get("pendingRequests", 0)
            for model in models
            for version in _get(f"{management_url}/models/{model['modelName']}/all")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _get(url: str):
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own loopback management API
        return json.load(response)
