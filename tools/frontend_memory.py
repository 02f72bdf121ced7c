"""What large bodies cost TorchServe's frontend (JVM): peak RSS, answers and whether it survives.

    python -m tools.frontend_memory --vmargs "-XX:+UseSerialGC -Xmx1g -XX:+ExitOnOutOfMemoryError" --concurrency 1,2
    python -m tools.frontend_memory --body json --concurrency 96

`form`: a 6 MiB `application/x-www-form-urlencoded` body of ~3.1M empty fields (`a&a&...`), which netty 4.1.53
decodes without a field limit (CVE-2024-29025). `json`: the largest legitimate body, 64 texts filling 6 MiB. The
real TorchServe serves the tiny random BERT from the project's config.properties with `vmargs` replaced; the figures
in docs/deployment-security.md came from these runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

from tests.conftest import save_tiny_bert
from tests.integration.conftest import archive
from tools.management_client import ManagementClient, wait_ready
from tools.server import LocalTorchServe

MIB = 1024 * 1024
BODY_BYTES = 6 * MIB


def body(kind: str) -> tuple[bytes, str]:
    if kind == "form":
        return b"&".join([b"a"] * (BODY_BYTES // 2 - 1)), "application/x-www-form-urlencoded"
    text = "Shares fell after the results. " * 3200
    return json.dumps({"data": [text[: (BODY_BYTES - 2000) // 64]] * 64}).encode(), "application/json"


def send_at_once(url: str, payload: bytes, content_type: str, count: int) -> list:
    def send(_):
        try:
            return requests.post(url, data=payload, headers={"Content-Type": content_type}, timeout=300).status_code
        except requests.RequestException as error:
            return type(error).__name__

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        return list(pool.map(send, range(count)))


def peak_rss_while(process: psutil.Process, work, *args) -> tuple[object, int]:
    """`work(*args)`'s result and the process's peak RSS while it ran (polled every 50 ms)."""
    peak, done = [0], threading.Event()

    def watch() -> None:
        while not done.is_set():
            try:
                peak[0] = max(peak[0], process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        return work(*args), peak[0]
    finally:
        done.set()
        watcher.join()


def measure(vmargs: str, kind: str, rounds: list[int]) -> None:
    work = Path(tempfile.mkdtemp(prefix="frontend-memory-"))
    store = work / "store"
    store.mkdir()
    archive(save_tiny_bert(work / "tiny-bert"), store, "tiny")
    server = LocalTorchServe(model_store=store, extra_config={"vmargs": vmargs}).start("tiny=tiny.mar")
    try:
        wait_ready(ManagementClient(server.management_url), "tiny", inference_url=server.inference_url, timeout=300)
        java = next(p for p in psutil.Process(server.process.pid).children(recursive=True) if p.name() == "java")
        print(f"vmargs: {vmargs}; idle frontend RSS {java.memory_info().rss / MIB:.0f} MiB")
        payload, content_type = body(kind)
        for count in rounds:
            started = time.monotonic()
            url = f"{server.inference_url}/predictions/tiny"
            answers, peak = peak_rss_while(java, send_at_once, url, payload, content_type, count)
            alive = java.is_running() and java.status() != psutil.STATUS_ZOMBIE
            seconds = time.monotonic() - started
            print(f"{count} x {len(payload)}-byte {kind} bodies: answers {answers} in {seconds:.1f} s; "
                  f"peak frontend RSS {peak / MIB:.0f} MiB; alive {alive}")  # fmt: skip
            if not alive:
                break
    finally:
        server.stop()
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--vmargs", default="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx1g -XX:+ExitOnOutOfMemoryError"
    )
    parser.add_argument("--body", choices=("form", "json"), default="form")
    parser.add_argument("--concurrency", default="1,2", help="comma-separated rounds, e.g. 1,4")
    args = parser.parse_args(argv)
    measure(args.vmargs, args.body, [int(n) for n in args.concurrency.split(",")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
