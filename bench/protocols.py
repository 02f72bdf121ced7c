"""Served throughput per protocol: `/predictions` (JSON), OIP REST (`/v2/models/<m>/infer`) and TorchServe's gRPC
`Predictions`, one text per request, closed loop, on the same server and model.

The hook for `make bench`: `protocol_loads(server, model, texts, concurrency, ...)` returns one `LoadResult` per
protocol (the REST ones through `bench.load.run_load`, gRPC through `run_grpc_load`, bounded the same way).

Standalone (a provisional ratio on a shared machine):

    python -m bench.protocols --model-dir artifacts --concurrency 16 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.load import CpuMeter, LoadResult, Payload, json_payloads, run_load
from bench.plan import MODEL_NAME
from bench.workloads import build_workload
from tools.archive import build_archive
from tools.management_client import ManagementClient, wait_ready
from tools.server import LocalTorchServe
from training.corpus import load_corpus

PROTOCOLS = ("predictions", "oip-rest", "grpc")
STANDALONE_TEXTS = 960
"""Headlines the standalone run sends (the `short` workload, as `make bench` compares protocols on)."""


def standalone_texts(size: int = STANDALONE_TEXTS) -> list[str]:
    """The standalone run's texts: the seeded `short` workload drawn from the BBC corpus."""
    return build_workload("short", load_corpus(), size).texts


def oip_payloads(texts: Sequence[str]) -> list[Payload]:
    """One OIP inference request (a BYTES tensor of one text) per text."""
    return [
        Payload(json.dumps({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": [t]}]}).encode())
        for t in texts
    ]


async def _run_grpc(target: str, model: str, payloads, concurrency, max_requests, max_seconds, drain_seconds, timeout):
    import grpc

    from tools.grpc_stubs import load_stubs

    stubs = load_stubs()
    result = LoadResult(concurrency)
    next_index = answered_count = 0
    async with grpc.aio.insecure_channel(target) as channel:
        predictions = stubs.inference_pb2_grpc.InferenceAPIsServiceStub(channel).Predictions
        started = time.perf_counter()
        deadline, last_answer = started + max_seconds, started

        async def client() -> None:
            nonlocal next_index, answered_count, last_answer
            while next_index < max_requests and time.perf_counter() < deadline:
                payload = payloads[next_index % len(payloads)]
                next_index += 1
                sent = time.perf_counter()
                request = stubs.inference_pb2.PredictionsRequest(model_name=model, input={"data": payload.body})
                try:
                    answer = await predictions(request, timeout=timeout)
                    # TorchServe answers a request's error with status OK; ours say so in the body.
                    status = 200 if not answer.prediction.startswith(b'{"code"') else "error-body"
                except grpc.aio.AioRpcError as error:
                    status = error.code().name
                answered_count += 1
                last_answer = max(last_answer, time.perf_counter())
                if status == 200:
                    result.requests += 1
                    result.texts += payload.texts
                    result.latencies.append(time.perf_counter() - sent)
                else:
                    result.errors[str(status)] += 1

        try:
            await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), max_seconds + drain_seconds)
            result.seconds = last_answer - started
        except asyncio.TimeoutError:
            result.unfinished = next_index - answered_count
            result.seconds = time.perf_counter() - started
    return result


def run_grpc_load(
    target: str,
    model: str,
    payloads: Sequence[Payload],
    concurrency: int,
    *,
    max_requests: int = 10_000,
    max_seconds: float = 5.0,
    drain_seconds: float = 10.0,
    timeout: float = 60.0,
) -> LoadResult:
    """`run_load`'s closed loop over TorchServe's gRPC `Predictions` on `target` (`host:port`)."""
    meter = CpuMeter()
    result = asyncio.run(
        _run_grpc(target, model, payloads, concurrency, max_requests, max_seconds, drain_seconds, timeout)
    )
    result.foreign_cores = meter.foreign_cores()
    return result


def protocol_loads(server, model: str, texts: Sequence[str], concurrency: int, **bounds) -> dict[str, LoadResult]:
    """One closed-loop run per protocol against a running `tools.server.LocalTorchServe`."""
    base = f"{server.inference_url}"
    grpc_target = f"127.0.0.1:{server.ports['grpc_inference_port']}"
    return {
        "predictions": run_load(f"{base}/predictions/{model}", json_payloads(texts), concurrency, **bounds),
        "oip-rest": run_load(f"{base}/v2/models/{model}/infer", oip_payloads(texts), concurrency, **bounds),
        "grpc": run_grpc_load(grpc_target, model, json_payloads(texts), concurrency, **bounds),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="served texts/s per protocol (provisional on a shared machine)")
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts"))
    parser.add_argument("--config", type=Path, default=Path("model-config.yaml"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)

    texts = standalone_texts()
    store = Path(tempfile.mkdtemp(prefix="bench-protocols-"))
    build_archive(model_dir=args.model_dir, model_name=MODEL_NAME, version="1.0", config_file=args.config,
                  export_path=store)  # fmt: skip
    server = LocalTorchServe(model_store=store).start(f"{MODEL_NAME}={MODEL_NAME}.mar")
    try:
        wait_ready(ManagementClient(server.management_url), MODEL_NAME, inference_url=server.inference_url, timeout=240)
        protocol_loads(server, MODEL_NAME, texts, args.concurrency, max_seconds=5)  # warm-up, not measured
        runs: dict[str, list[LoadResult]] = {name: [] for name in PROTOCOLS}
        for _ in range(args.repeats):  # interleaved, so drift on a shared machine hits every protocol alike
            for name, result in protocol_loads(
                server, MODEL_NAME, texts, args.concurrency, max_seconds=args.seconds
            ).items():
                runs[name].append(result)
    finally:
        server.stop()
        server.cleanup()
        shutil.rmtree(store, ignore_errors=True)  # the archive (tens of MB)
    reference = sum(r.texts_per_second for r in runs["predictions"]) / args.repeats
    for name, results in runs.items():
        rate = sum(r.texts_per_second for r in results) / len(results)
        p50 = sorted(r.latency(50) for r in results)[len(results) // 2] * 1000
        errors = sum(r.error_count + r.unfinished for r in results)
        print(
            f"{name:12s} {rate:7.1f} texts/s  x{rate / reference:.2f} of /predictions  p50 {p50:.1f} ms  "
            f"errors {errors}"
        )


if __name__ == "__main__":
    main()
