"""The served part of the bench: real TorchServe instances serving each variant's archive under closed-loop load,
and the batchSize / maxBatchDelay sweep on one of them."""

from __future__ import annotations

import dataclasses
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import processes
from .isa import AVX2, NATIVE, variant_environment
from .load import LoadResult, Payload, median, run_load
from .paired import Pairing, measure_paired
from .plan import (
    ENGINE_ARCHIVES,
    MODEL_NAME,
    MULTI_WORKLOAD,
    READY_TIMEOUT,
    Plan,
    Variant,
    archive_configs,
    chosen_variants,
)
from .processes import RequestCost
from .records import (
    ArchiveRecord,
    Measured,
    ProtocolPoint,
    Results,
    ServedPoint,
    ServerStats,
    SweepPoint,
    VariantRecord,
)
from .server_metrics import scrape, server_stats, worker_facts
from .starts import run_starts
from .workloads import PAIR_WORKLOAD, WORKLOADS

ROTATION_STEP = 397
"""Each repetition starts this many payloads further into the workload."""

Log = Callable[[str], None]


def build_archives(
    store: Path, model_dir: Path, configs: dict[str, dict], keys: Sequence[str], engines_dir: Path | None
) -> dict:
    """One .mar per archive key in `store` (built like `make archive`; `ENGINE_ARCHIVES` with `engines_dir`'s
    ONNX files and gate), and how long each took."""
    import yaml

    from tools.archive import build_archive

    built = {}
    for key in keys:
        config = store.parent / f"{store.name}-{key}.yaml"
        config.write_text(yaml.safe_dump(configs[key], sort_keys=False))
        started = time.perf_counter()
        engines = engines_dir if key in ENGINE_ARCHIVES else None
        build_archive(
            model_dir=model_dir,
            model_name=key,
            version="1.0",
            config_file=config,
            export_path=store,
            engines_dir=engines,
        )
        built[key] = ArchiveRecord(round(time.perf_counter() - started, 1), configs[key])
        config.unlink()
    return built


def build_engines_once(store: Path, model_dir: Path, shipped: dict, plan: Plan) -> tuple[Path, dict]:
    """The ONNX export and the accuracy gate, for the ONNX archive and the ONNX Runtime ceilings (a quick run
    accepts without measuring)."""
    import yaml

    from tools.archive import build_engines

    engines_dir, config = store.parent / f"{store.name}-engines", store.parent / f"{store.name}-gate.yaml"
    config.write_text(yaml.safe_dump(shipped, sort_keys=False))
    started = time.perf_counter()
    record = build_engines(model_dir, engines_dir, config, "accept" if plan.accuracy_limit else "measure")
    record["seconds"] = round(time.perf_counter() - started, 1)
    return engines_dir, record


def run_served(
    store: Path,
    model_dir: Path,
    engines_dir: Path,
    shipped: dict,
    payloads: dict[str, list[Payload]],
    plan: Plan,
    results: Results,
    log: Log,
    *,
    names: list[str] | None = None,
    sweep_too: bool = True,
    pairings: dict[str, Pairing] | None = None,
) -> None:
    """Serve every chosen variant in its own fresh server and record its points (and the sweep) in `results`.
    `engines_dir` holds the ONNX export and the gate's record (`build_engines_once`) for the ONNX archive;
    `pairings` (by instruction set: `bench.isa`) measure `plan.paired_on` in paired rounds against the ceiling of
    the instructions they run on (`bench.paired`)."""
    cores, bf16 = results.machine.usable_cores, results.machine.native_bf16
    chosen = chosen_variants(plan, bf16, cores, names)
    sweep_on = next((name for name in plan.sweep_on if name in {v.name for v in chosen}), None)
    protocols_on = next((name for name in plan.protocols_on if name in {v.name for v in chosen}), None)
    configs = archive_configs(shipped, cores)
    keys = list(dict.fromkeys(v.archive for v in chosen))
    results.archives = build_archives(store, model_dir, configs, keys, engines_dir)
    for variant in (v for v in chosen if v.name in plan.restarted):
        results.starts += run_starts(store, variant, plan.starts, log)
    for variant in chosen:
        frontend = {key: value for key, value in configs[variant.archive].items() if key != "handler"}
        partial = len(variant.concurrencies or plan.concurrencies) == 1
        record = VariantRecord(variant.name, variant.description, variant.archive, variant.env, partial, frontend)
        results.variants.append(record)
        sweep = plan.sweep if sweep_too and variant.name == sweep_on else ()
        paired = (pairings or {}).get(AVX2 if variant.avx2 else NATIVE) if variant.name in plan.paired_on else None
        extras = Extras(sweep, protocols=variant.name == protocols_on, pairing=paired)
        try:
            serve_variant(store, variant, payloads, plan, record, results, extras, log)
        except Exception as error:  # noqa: BLE001 - one variant failing must not lose the others
            record.error = f"{type(error).__name__}: {error}"
            log(f"variant {variant.name} failed: {record.error}")


def serve_variant(
    store: Path,
    variant: Variant,
    payloads: dict[str, list[Payload]],
    plan: Plan,
    record: VariantRecord,
    results: Results,
    extras: Extras,
    log: Log,
) -> None:
    """Start a server for `variant`, measure its points, run its sweep and protocols if asked, stop it."""
    from tools.management_client import ManagementClient, wait_ready
    from tools.server import LocalTorchServe

    env = variant_environment(store, variant, record)
    server = LocalTorchServe(model_store=store, env=env)
    server.extra_config = dict(variant.frontend or {})
    if variant.torchserve_jvm:
        server.extra_config, server.log_config = server.extra_config | {"vmargs": ""}, None
    started = time.perf_counter()
    server.start(f"{MODEL_NAME}={variant.archive}.mar")
    try:
        client = ManagementClient(server.management_url)
        wait_ready(client, MODEL_NAME, inference_url=server.inference_url, timeout=READY_TIMEOUT)
        record.start_to_ready_seconds = time.perf_counter() - started
        for key, value in worker_facts(server.model_log()).items():
            setattr(record, key, value)
        log(f"{variant.name}: ready in {record.start_to_ready_seconds:.1f} s "
            f"(dtype {record.dtype or '?'}, {record.torch_threads or '?'} threads/worker)")  # fmt: skip
        workers = int(record.config.get("minWorkers") or 1)
        grids = [(variant.workloads or WORKLOADS, variant.concurrencies or plan.concurrencies, plan.repeats)]
        if variant.name in plan.pair_on:
            grids.append(((PAIR_WORKLOAD, MULTI_WORKLOAD), (plan.headline_concurrency,), plan.repeats))
        for grid in grids:
            for (workload, concurrency), measured in measure_grid(server, MODEL_NAME, payloads, plan, grid, workers):
                results.served.append(ServedPoint(variant.name, workload, concurrency, measured))
                log(f"{variant.name} {workload} c={concurrency}: {_describe(measured)}")
        if extras.pairing:
            results.paired += measure_paired(server, variant.name, extras.pairing, payloads, plan, workers, log)
        if extras.protocols:
            results.protocols += protocol_points(server, variant.name, payloads["short"], plan, log)
        for batch_size, delay in extras.sweep:
            results.sweep += sweep_points(client, server, variant, payloads, plan, (batch_size, delay), workers, log)
    except BaseException:
        log(f"{variant.name}: server log tail:\n{server.all_logs()[-3000:]}")
        raise
    finally:
        server.stop()
        server.cleanup()


@dataclass(frozen=True)
class Extras:
    """What a variant's server measures besides its own grid."""

    sweep: Sequence[tuple[int, int]] = ()
    protocols: bool = False
    pairing: Pairing | None = None


def protocol_points(server, variant: str, payloads: list[Payload], plan: Plan, log: Log) -> list[ProtocolPoint]:
    """`/predictions`, OIP REST and gRPC on this server, short texts at the headline concurrency; the repeats
    interleaved so drift hits every protocol alike."""
    from .protocols import PROTOCOLS, protocol_loads

    texts = [json.loads(payload.body)["text"] for payload in payloads]  # json_payloads: one {"text"} each
    bounds = {"max_requests": plan.load_max_requests, "max_seconds": plan.load_seconds}
    runs: dict[str, list[LoadResult]] = {name: [] for name in PROTOCOLS}
    for _ in range(plan.repeats):
        for name, result in protocol_loads(server, MODEL_NAME, texts, plan.headline_concurrency, **bounds).items():
            runs[name].append(result)
    points = [
        ProtocolPoint(variant, name, len(found), median([r.texts_per_second for r in found]),
                      median([r.latency(50) for r in found]), median([r.latency(99) for r in found]),
                      sum(sum(r.errors.values()) for r in found))
        for name, found in runs.items()
    ]  # fmt: skip
    for point in points:
        log(f"protocol {point.protocol} on {variant}: {point.texts_per_second:.1f} texts/s, errors {point.errors}")
    return points


def sweep_points(
    client, server, variant: Variant, payloads: dict, plan: Plan, batching: tuple[int, int], workers: int, log: Log
) -> list[SweepPoint]:
    """Register the variant's archive again with another (batchSize, maxBatchDelay), measure, unregister."""
    from tools.management_client import wait_ready

    batch_size, delay = batching
    name = f"sweep_b{batch_size}_d{delay}"
    client.register(
        f"{variant.archive}.mar", model_name=name, workers=workers, batch_size=batch_size, max_batch_delay=delay
    )
    try:
        wait_ready(client, name, inference_url=server.inference_url, timeout=READY_TIMEOUT)
        grid = (plan.sweep_workloads, plan.sweep_concurrencies, plan.sweep_repeats)
        points = []
        for (workload, concurrency), measured in measure_grid(server, name, payloads, plan, grid, workers):
            points.append(SweepPoint(variant.name, batch_size, delay, workload, concurrency, measured))
            log(f"sweep {variant.name} batchSize={batch_size} maxBatchDelay={delay} {workload} c={concurrency}: "
                f"{_describe(measured)}")  # fmt: skip
        return points
    finally:
        client.unregister(name)


def measure_grid(server, model: str, payloads: dict, plan: Plan, grid, workers: int):
    """[((workload, concurrency), Measured)] over the grid (workloads, concurrencies, repeats), after a warm-up;
    the repetitions interleaved, each starting elsewhere in the workload."""
    workloads, concurrencies, repeats = grid
    warm_up(f"{server.inference_url}/predictions/{model}", payloads, plan)
    runs: dict[tuple[str, int], list[tuple[LoadResult, ServerStats, RequestCost | None]]] = {}
    for repeat in range(repeats):
        for workload in workloads:
            for concurrency in concurrencies:
                found = measure(server, model, rotate(payloads[workload], repeat), concurrency, plan, workers)
                runs.setdefault((workload, concurrency), []).append(found)
    return [(key, summarise(found)) for key, found in runs.items()]


def warm_up(url: str, payloads: dict, plan: Plan) -> None:
    """Warm the frontend's JIT, the workers and the model's kernels on short and long texts (not measured)."""
    seconds = min(2.0, plan.load_seconds)
    run_load(url, payloads["short"], plan.headline_concurrency, max_requests=10_000, max_seconds=seconds)
    run_load(url, payloads["mixed"], plan.headline_concurrency, max_requests=1000, max_seconds=seconds)


def measure(server, model: str, payloads: list, concurrency: int, plan: Plan, workers: int):
    """One closed-loop run on `model`, with what the server's metrics counted and what each process spent."""
    url = f"{server.inference_url}/predictions/{model}"
    before = scrape(server.metrics_url, model)
    cpu_before = processes.sample(server.process.pid)
    result = run_load(url, payloads, concurrency, max_requests=plan.load_max_requests, max_seconds=plan.load_seconds,
                      drain_seconds=plan.drain_seconds)  # fmt: skip
    cost = processes.request_cost(cpu_before, processes.sample(server.process.pid), result.requests)
    return result, server_stats(before, scrape(server.metrics_url, model), result.seconds, workers), cost


def summarise(found: Sequence[tuple[LoadResult, ServerStats, RequestCost | None]]) -> Measured:
    """Medians over the repetitions of one point; counts and errors summed."""
    loads = [load for load, _, _ in found]
    errors: Counter = Counter()
    for load in loads:
        errors.update(load.errors)
    return Measured(
        runs=len(loads),
        texts_per_second=median([r.texts_per_second for r in loads]),
        texts_per_second_runs=[r.texts_per_second for r in loads],
        requests_per_second=median([r.requests_per_second for r in loads]),
        flops_per_second=median([r.flops_per_second for r in loads]),
        p50=median([r.latency(50) for r in loads]),
        p90=median([r.latency(90) for r in loads]),
        p99=median([r.latency(99) for r in loads]),
        requests=sum(r.requests for r in loads),
        unfinished=sum(r.unfinished for r in loads),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        client_cpu=median([r.client_cpu_seconds / r.seconds if r.seconds else 0.0 for r in loads]),
        foreign_cores=median([r.foreign_cores for r in loads]),
        server=median_stats([stats for _, stats, _ in found]),
        cost=median_cost([cost for _, _, cost in found if cost]),
    )


def median_cost(costs: Sequence[RequestCost]) -> RequestCost | None:
    """Each process's median CPU per request over the runs (workers by position, as many as every run had)."""
    if not costs:
        return None
    workers = min(len(cost.workers_ms) for cost in costs)
    return RequestCost(
        median([c.frontend_ms for c in costs]),
        [median([c.workers_ms[i] for c in costs]) for i in range(workers)],
        median([c.client_ms for c in costs]),
    )


def median_stats(stats: Sequence[ServerStats]) -> ServerStats:
    """Each counter-derived fact's median over the runs that had it."""
    medians = {}
    for name in (f.name for f in dataclasses.fields(ServerStats)):
        values = [getattr(s, name) for s in stats if getattr(s, name) is not None]
        medians[name] = median(values) if values else None
    return ServerStats(**medians)


def rotate(items: list, repeat: int) -> list:
    """Each repetition starts at another place in the workload."""
    offset = (repeat * ROTATION_STEP) % len(items)
    return items[offset:] + items[:offset]


def _describe(measured: Measured) -> str:
    return (
        f"{measured.texts_per_second:.1f} texts/s p99 {measured.p99 * 1000:.0f} ms "
        f"errors {measured.errors} unfinished {measured.unfinished}"
    )
