"""`engine: auto` on every start: the same archive started again in fresh servers, to ready only."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .isa import variant_environment
from .plan import MODEL_NAME, READY_TIMEOUT, Variant
from .records import StartRecord
from .server_metrics import worker_facts


def run_starts(store: Path, variant: Variant, count: int, log: Callable[[str], None]) -> list[StartRecord]:
    """Start `variant`'s archive `count` times, each in a fresh server (so each probes afresh: its own temp
    folder), to ready; what the workers chose each time."""
    from tools.management_client import ManagementClient, wait_ready
    from tools.server import LocalTorchServe

    starts = []
    for _ in range(count):
        server = LocalTorchServe(model_store=store, env=variant_environment(store, variant))
        started = time.perf_counter()
        server.start(f"{MODEL_NAME}={variant.archive}.mar")
        try:
            wait_ready(ManagementClient(server.management_url), MODEL_NAME, inference_url=server.inference_url,
                       timeout=READY_TIMEOUT)  # fmt: skip
            seconds = time.perf_counter() - started
            facts = worker_facts(server.model_log())
        finally:
            server.stop()
            server.cleanup()
        served = f"{facts.get('engine', '?')}-{facts.get('dtype', '?')}"
        starts.append(StartRecord(variant.name, round(seconds, 1), served, facts.get("chosen_by", "?")))
        log(f"start of {variant.name}: ready in {seconds:.1f} s, serving {served}")
    return starts
