"""`python -m bench --out docs [--quick]`: the whole benchmark in one run, then docs/bench.md and docs/bench.png.

1. machine description and matmul peaks (fp32, bf16);
2. workloads from the BBC corpus (short, mixed, long), their tokens and model FLOPs;
3. held-out accuracy fp32 vs bf16 (in process);
4. the in-process ceiling per workload and precision (best of layouts, batch sizes, length sorting);
5. the real TorchServe serving .mar archives built from the shipped model-config.yaml (and variants of it)
   under closed-loop load at several concurrencies, each point repeated, medians reported;
6. a batchSize / maxBatchDelay sweep: one variant's archive registered again with other values;
7. the report (`bench/report.py`).

`--variants a,b` picks served variants (see `catalog`), `--skip accuracy,ceiling,served,sweep` drops phases
(for exploring; the committed report comes from a full run).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import re
import shlex
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _folder in (ROOT, ROOT / "handlers"):  # tools/, and the serving core that lives next to the handler
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from .load import json_payloads, median, run_load  # noqa: E402
from .workloads import WORKLOADS, build_workload, load_articles, measure_tokens  # noqa: E402

MODEL_NAME = "bert"
ONE_WORKER_BATCH_SIZE = 16
"""batchSize of the one-worker variant (`1x2-fp32`, the layout shipped before one worker per core): with a
single worker a batch may hold every request of the headline concurrency."""


@dataclass(frozen=True)
class Plan:
    """How much to measure. The full plan fits in ~10 minutes on 2 cores; `QUICK` in ~1-2."""

    workload_size: int = 2000
    concurrencies: tuple[int, ...] = (1, 4, 16, 64)
    load_seconds: float = 2.0
    load_max_requests: int = 5000
    drain_seconds: float = 6.0
    repeats: int = 3
    ceiling_grid: tuple[tuple[str, int, str], ...] = (
        ("short", 16, "sorted"),
        ("short", 64, "sorted"),
        ("mixed", 16, "arrival"),
        ("mixed", 16, "sorted"),
        ("mixed", 64, "sorted"),
        ("long", 16, "sorted"),
    )
    """(workload, texts per call, order) measured for every layout and precision. Length sorting only matters
    where lengths differ a lot (mixed); 16 arriving texts per call is what a server sees at concurrency 16."""
    ceiling_samples: tuple[tuple[str, int], ...] = (("short", 960), ("mixed", 384), ("long", 64))
    """Texts per ceiling run (the first ones of each workload), each run classifying all of them: 1-7 s a run."""
    ceiling_repeats: int = 2
    accuracy_limit: int | None = None
    peak_seconds: float = 1.5
    variants: tuple[str, ...] = (
        "fp32", "bf16", "auto", "fp32-avx2", "auto-avx2", "1x2-fp32", "padded-fp32", "ts-jvm-fp32", "ts-defaults"
    )  # fmt: skip
    sweep: tuple[tuple[int, int], ...] = ((4, 5), (16, 5), (8, 1), (8, 20))
    """(batchSize, maxBatchDelay) pairs registered next to the sweep variant's own values."""
    sweep_workloads: tuple[str, ...] = ("short", "mixed")
    sweep_concurrencies: tuple[int, ...] = (4, 16, 64)
    sweep_on: tuple[str, ...] = ("bf16", "fp32")
    """The sweep runs on the first of these variants that is measured."""
    sweep_repeats: int = 2
    headline_concurrency: int = 16


QUICK = Plan(
    workload_size=400,
    concurrencies=(1, 16),
    load_seconds=1.0,
    load_max_requests=400,
    drain_seconds=3.0,
    repeats=1,
    ceiling_grid=(("short", 16, "sorted"), ("mixed", 16, "sorted"), ("long", 16, "sorted")),
    ceiling_samples=(("short", 320), ("mixed", 96), ("long", 32)),
    ceiling_repeats=1,
    accuracy_limit=48,
    peak_seconds=0.5,
    variants=("fp32", "bf16", "auto"),
    sweep=((4, 5),),
    sweep_workloads=("mixed",),
    sweep_concurrencies=(16,),
    sweep_repeats=1,
)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [name for name in ("aiohttp", "matplotlib", "yaml", "psutil") if not _importable(name)]
    if missing:
        log(f"error: {', '.join(missing)} missing: `pip install -e '.[bench]'` (or `make bench`)")
        return 2
    plan = QUICK if args.quick else Plan()
    started = time.perf_counter()
    results = run(args, plan)
    results["duration_seconds"] = time.perf_counter() - started
    from .report import write_report

    paths = write_report(results, Path(args.out))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    log(f"done in {results['duration_seconds'] / 60:.1f} min: " + ", ".join(str(p) for p in paths))
    return 0


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs", help="folder for bench.md and bench.png (default: docs)")
    parser.add_argument("--model-dir", default=str(ROOT / "artifacts"), help="save_pretrained folder")
    parser.add_argument("--config", default=str(ROOT / "model-config.yaml"), help="the shipped model-config")
    parser.add_argument("--quick", action="store_true", help="a 1-2 minute smoke run (numbers are rough)")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--variants", type=lambda text: text.split(","), help="served variants to run (comma list)")
    parser.add_argument(
        "--skip",
        type=lambda text: text.split(","),
        default=[],
        help="phases to skip: accuracy, ceiling, served, sweep (comma list)",
    )
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, plan: Plan) -> dict:
    import torch
    import yaml

    from bert_classifier.device import cpu_supports_bf16, select_dtype, usable_cores
    from bert_classifier.settings import read_settings

    model_dir = Path(args.model_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise SystemExit(f"error: {model_dir} has no model.safetensors (run `make model` or pass --model-dir)")
    shipped = yaml.safe_load(Path(args.config).read_text())
    settings = dataclasses.asdict(read_settings(shipped.get("handler"), env={}))
    cores = usable_cores()
    bf16 = cpu_supports_bf16()
    auto_dtype = str(select_dtype(torch.device("cpu"), settings["precision"])).removeprefix("torch.")
    results: dict = {
        "command": args.command,
        "quick": args.quick,
        "plan": dataclasses.asdict(plan),
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(cores, bf16),
        "phases": {},
        "model": {
            "dir": str(model_dir),
            "settings": settings,
            "shipped_config": _frontend(shipped),
            "auto_dtype": auto_dtype,
        },
    }
    phase = Phases(results["phases"])

    with phase("peaks"):
        results["peaks"] = peaks(cores, plan)
    with phase("workloads"):
        workloads, shape = build_workloads(model_dir, settings, plan)
        results["model"] |= {"matmul_params": shape.matmul_params, "params": _param_count(model_dir)}
        results["workloads"] = [workload_summary(w, f) for w, f in workloads.values()]
    precisions = ["fp32", "bf16"] if bf16 else ["fp32"]
    if "accuracy" not in args.skip:
        with phase("accuracy"):
            results["accuracy"] = accuracy(model_dir, settings, precisions, plan, cores)
    if "ceiling" not in args.skip:
        with phase("ceiling"):
            results["ceiling"] = ceiling(model_dir, settings, precisions, workloads, plan, cores)
    if "served" not in args.skip:
        with tempfile.TemporaryDirectory(prefix="bench-store-") as store, phase("served"):
            served(Path(store), model_dir, shipped, workloads, plan, cores, bf16, results, args.variants,
                   "sweep" not in args.skip)  # fmt: skip
    return results


class Phases:
    """`with phase("name"):` logs and records each phase's duration."""

    def __init__(self, record: dict) -> None:
        self.record = record

    def __call__(self, name: str):
        phases = self

        class _Phase:
            def __enter__(self):
                log(f"{name} ...")
                self.started = time.perf_counter()

            def __exit__(self, *exc):
                phases.record[name] = round(time.perf_counter() - self.started, 1)
                log(f"{name} took {phases.record[name]:.0f} s")

        return _Phase()


def machine(cores: int, bf16: bool) -> dict:
    import psutil
    import torch

    flags = _cpu_flags()
    busy = psutil.cpu_percent(interval=1.0)  # what else was running when the bench started
    return {
        "cpu": _cpu_model(),
        "usable_cores": cores,
        "logical_cpus": os.cpu_count(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "native_bf16": bf16,
        "avx512_bf16": "avx512_bf16" in flags,
        "amx_bf16": "amx_bf16" in flags,
        "avx512f": "avx512f" in flags,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchserve": _version("torchserve"),
        "transformers": _version("transformers"),
        "os": f"{platform.system()} {platform.release()}",
        "busy_percent_before": busy,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    match = re.search(r"^flags\s*:\s*(.*)$", text, re.MULTILINE)
    return set(match.group(1).split()) if match else set()


def _cpu_model() -> str:
    try:
        match = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
        return match.group(1).strip() if match else platform.processor()
    except OSError:
        return platform.processor()


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _frontend(config: dict) -> dict:
    return {key: value for key, value in config.items() if key != "handler"}


def _param_count(model_dir: Path) -> int:
    from safetensors import safe_open

    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as weights:
        total = 0
        for key in weights.keys():  # noqa: SIM118
            count = 1
            for size in weights.get_slice(key).get_shape():
                count *= size
            total += count
        return total


def peaks(cores: int, plan: Plan) -> dict:
    import torch

    from .peaks import matmul_peak

    result = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        peak = matmul_peak(dtype, threads=cores, seconds=plan.peak_seconds)
        result[name] = peak.flops
        result["size"], result["threads"] = peak.size, peak.threads
        log(f"{name} matmul peak {peak.flops / 1e9:.0f} GFLOP/s ({peak.size}^3, {peak.threads} threads)")
    return result


def build_workloads(model_dir: Path, settings: dict, plan: Plan):
    from transformers import AutoConfig, AutoTokenizer

    from .peaks import EncoderShape, sequence_flops

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    shape = EncoderShape.from_config(AutoConfig.from_pretrained(str(model_dir), local_files_only=True))
    articles = load_articles()
    workloads = {}
    for name in WORKLOADS:
        workload = measure_tokens(build_workload(name, articles, plan.workload_size), tokenizer, settings["max_length"])
        workloads[name] = (workload, [sequence_flops(shape, tokens) for tokens in workload.tokens])
        log(
            f"workload {name}: {len(workload.texts)} texts, {workload.long_share:.0%} whole articles, "
            f"{workload.mean_tokens:.0f} tokens/text"
        )
    return workloads, shape


def workload_summary(workload, flops) -> dict:
    return {
        "name": workload.name,
        "texts": len(workload.texts),
        "long_share": workload.long_share,
        "mean_tokens": workload.mean_tokens,
        "max_tokens": max(workload.tokens),
        "mean_flops": sum(flops) / len(flops),
    }


def accuracy(model_dir: Path, settings: dict, precisions: list[str], plan: Plan, cores: int) -> dict:
    from .accuracy import measure_accuracy

    report = measure_accuracy(model_dir, settings, precisions, limit=plan.accuracy_limit, threads=cores)
    for r in report.results:
        log(f"accuracy {r.precision} ({r.dtype}): {r.correct}/{r.total} = {r.accuracy:.2%} in {r.seconds:.1f} s")
    return report.as_dict()


def ceiling(
    model_dir: Path, settings: dict, precisions: list[str], workloads: dict, plan: Plan, cores: int
) -> list[dict]:
    from .ceiling import CeilingPool, Layout, as_dicts

    layouts = [Layout(1, cores)] + ([Layout(cores, 1)] if cores > 1 else [])
    samples = dict(plan.ceiling_samples)
    points = []
    for precision in precisions:
        for layout in layouts:
            with CeilingPool(str(model_dir), settings, layout, precision) as pool:
                for name in dict.fromkeys(name for name, _, _ in plan.ceiling_grid):
                    workload, flops = workloads[name]
                    mine = [
                        pool.measure(workload, flops, batch, order, samples.get(name), plan.ceiling_repeats)
                        for grid_name, batch, order in plan.ceiling_grid
                        if grid_name == name
                    ]
                    points += mine
                    top = max(mine, key=lambda p: p.texts_per_second)
                    log(
                        f"ceiling {precision} {layout.name} {name}: best {top.texts_per_second:.0f} texts/s "
                        f"(batch {top.batch}, {top.order}; other processes {top.foreign_cores:.2f} cores)"
                    )
    return as_dicts(points)


# --- the served part ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    name: str
    description: str
    archive: str
    """Which archive (a key of `archive_configs`)."""
    env: dict
    needs_bf16: bool = False
    workloads: tuple[str, ...] | None = None
    """Workloads to measure (default: all)."""
    concurrencies: tuple[int, ...] | None = None
    """Concurrencies to measure (default: the plan's)."""
    torchserve_jvm: bool = False
    """Start TorchServe with its own JVM settings and log4j2.xml instead of the project's."""
    avx2: bool = False
    """Emulate an AVX2-only CPU in the workers (`bench/isa.py`)."""


def archive_configs(shipped: dict, cores: int) -> dict[str, dict]:
    """model-config.yaml per archive: the shipped one as is, and variants of it (everything else unchanged)."""
    handler = shipped.get("handler", {})
    return {
        "shipped": shipped,
        # One worker with a torch thread per core: the layout shipped before one worker per core.
        "one-worker": shipped
        | {"minWorkers": 1, "maxWorkers": 1, "batchSize": ONE_WORKER_BATCH_SIZE,
           "handler": handler | {"torch_threads": 0}},
        # TorchServe's defaults: a worker per core, batch size 1, 100 ms batch delay, torch's own thread count.
        "ts-defaults": shipped
        | {"minWorkers": cores, "maxWorkers": cores, "batchSize": 1, "maxBatchDelay": 100,
           "handler": handler | {"torch_threads": cores}},
        # The shipped config with the ONNX export and the accuracy gate packed (what `make archive` builds).
        "onnx": shipped,
    }  # fmt: skip


ENGINE_ARCHIVES = ("onnx",)
"""Archives built with the ONNX files and engines.json (`tools.archive.build_engines`, built once per run)."""


def catalog(cores: int, plan: Plan) -> dict[str, Variant]:
    """Every served variant the bench knows; `Plan.variants` (or --variants) picks which to run."""
    fp32, bf16 = {"BERT_CLASSIFIER_PRECISION": "fp32"}, {"BERT_CLASSIFIER_PRECISION": "bf16"}
    # At the headline concurrency only: one change at a time.
    partial = {"workloads": plan.sweep_workloads, "concurrencies": (plan.headline_concurrency,)}
    every = [
        Variant("fp32", "shipped config, precision fp32", "shipped", fp32),
        Variant("auto", "make archive's archive (ONNX + gate), engine auto: the probe's choice", "onnx", {}),
        Variant("ort-fp32", "ONNX archive, engine onnxruntime, fp32", "onnx",
                {"BERT_CLASSIFIER_ENGINE": "onnxruntime", "BERT_CLASSIFIER_PRECISION": "fp32"}, **partial),
        Variant("ort-int8", "ONNX archive, engine onnxruntime, int8", "onnx",
                {"BERT_CLASSIFIER_ENGINE": "onnxruntime", "BERT_CLASSIFIER_PRECISION": "int8"}, **partial),
        Variant("fp32-avx2", "shipped config, precision fp32, AVX2-only CPU emulated", "shipped",
                fp32 | {"BERT_CLASSIFIER_ENGINE": "torch"}, avx2=True, **partial),
        Variant("auto-avx2", "ONNX archive, engine auto, AVX2-only CPU emulated", "onnx", {}, avx2=True, **partial),
        Variant("bf16", "shipped config, precision bf16", "shipped", bf16, needs_bf16=True),
        # Every concurrency: one multi-threaded worker uses all cores for a lone request, so it wins at low load.
        Variant("1x2-fp32", f"1 worker × {cores} torch threads, batchSize {ONE_WORKER_BATCH_SIZE}, fp32",
                "one-worker", fp32, workloads=plan.sweep_workloads),
        Variant("padded-fp32", "shipped config, fp32, token packing off (each micro-batch padded to its longest)",
                "shipped", fp32 | {"BERT_CLASSIFIER_PACKING": "off"}, **partial),
        Variant("ts-jvm-fp32", "shipped config, fp32, with TorchServe's own JVM settings and log4j2.xml",
                "shipped", fp32, torchserve_jvm=True, **partial),
        # Oversubscribed, so slow: skip the long texts and the deepest queue to keep the run bounded.
        Variant("ts-defaults", f"TorchServe-like defaults: {cores} workers × {cores} torch threads, batchSize 1, "
                "maxBatchDelay 100, TorchServe's JVM and logs, fp32", "ts-defaults", fp32, workloads=("short", "mixed"),
                concurrencies=tuple(c for c in plan.concurrencies if c <= plan.headline_concurrency),
                torchserve_jvm=True),
    ]  # fmt: skip
    return {variant.name: variant for variant in every}


def variants(plan: Plan, bf16: bool, cores: int, names: list[str] | None = None) -> list[Variant]:
    known = catalog(cores, plan)
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise SystemExit(f"error: unknown variant(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names or plan.variants if bf16 or not known[name].needs_bf16]


def served(
    store: Path,
    model_dir: Path,
    shipped: dict,
    workloads: dict,
    plan: Plan,
    cores: int,
    bf16: bool,
    results: dict,
    names: list[str] | None = None,
    sweep_too: bool = True,
) -> None:
    import yaml

    from tools.archive import build_archive

    chosen = variants(plan, bf16, cores, names)
    sweep_on = next((name for name in plan.sweep_on if name in {v.name for v in chosen}), None)
    configs = archive_configs(shipped, cores)
    results["variants"], results["served"], results["sweep"], results["archives"] = [], [], [], {}
    engines_dir = store.parent / f"{store.name}-engines"
    if any(v.archive in ENGINE_ARCHIVES for v in chosen):
        from tools.archive import build_engines

        started = time.perf_counter()
        gate = "accept" if plan.accuracy_limit else "measure"  # a quick run does not classify the held-out set
        results["engines"] = build_engines(model_dir, engines_dir, args_config(shipped, store), gate)
        results["engines"]["seconds"] = round(time.perf_counter() - started, 1)
    for key in dict.fromkeys(v.archive for v in chosen):
        config = store.parent / f"{store.name}-{key}.yaml"
        config.write_text(yaml.safe_dump(configs[key], sort_keys=False))
        started = time.perf_counter()
        build_archive(argparse.Namespace(model_dir=str(model_dir), model_name=key, version="1.0",
                                         config_file=str(config), export_path=str(store)),
                      engines_dir if key in ENGINE_ARCHIVES else None)  # fmt: skip
        results["archives"][key] = {"seconds": round(time.perf_counter() - started, 1), **configs[key]}
        config.unlink()
    payloads = {name: json_payloads(w.texts, w.tokens, flops) for name, (w, flops) in workloads.items()}
    for variant in chosen:
        record = {"name": variant.name, "description": variant.description, "archive": variant.archive,
                  "env": variant.env, "partial": len(variant.concurrencies or plan.concurrencies) == 1,
                  **_frontend(configs[variant.archive])}  # fmt: skip
        results["variants"].append(record)
        sweep = plan.sweep if sweep_too and variant.name == sweep_on else ()
        try:
            serve_variant(store, variant, payloads, plan, record, results, sweep)
        except Exception as error:  # noqa: BLE001 - one variant failing must not lose the others
            record["error"] = f"{type(error).__name__}: {error}"
            log(f"variant {variant.name} failed: {record['error']}")


def serve_variant(
    store: Path, variant: Variant, payloads: dict, plan: Plan, record: dict, results: dict, sweep
) -> None:
    from tools.manage import ManagementClient, wait_ready
    from tools.server import LocalTorchServe

    env = variant.env
    if variant.avx2:
        from .isa import avx2_environment

        env = env | avx2_environment(store.parent / f"{store.name}-isa")
    server = LocalTorchServe(model_store=store, env=env)
    if variant.torchserve_jvm:
        server.extra_config, server.log_config = {"vmargs": ""}, None
    started = time.perf_counter()
    server.start(f"{MODEL_NAME}={variant.archive}.mar")
    try:
        client = ManagementClient(server.management_url)
        wait_ready(client, MODEL_NAME, inference_url=server.inference_url, timeout=240)
        record["start_to_ready_seconds"] = time.perf_counter() - started
        record |= _worker_facts(server.model_log())
        log(
            f"{variant.name}: ready in {record['start_to_ready_seconds']:.1f} s "
            f"(dtype {record.get('dtype', '?')}, {record.get('torch_threads', '?')} threads/worker)"
        )
        warm_up(f"{server.inference_url}/predictions/{MODEL_NAME}", payloads, plan)
        workers = int(record.get("minWorkers") or 1)
        names = variant.workloads or WORKLOADS
        concurrencies = variant.concurrencies or plan.concurrencies
        runs: dict = {}
        for repeat in range(plan.repeats):
            for name in names:
                for concurrency in concurrencies:
                    result = measure(server, MODEL_NAME, _rotate(payloads[name], repeat), concurrency, plan, workers)
                    runs.setdefault((name, concurrency), []).append(result)
        for (name, concurrency), found in runs.items():
            point = {"variant": variant.name, "workload": name, "concurrency": concurrency, **summarise(found)}
            results["served"].append(point)
            log(
                f"{variant.name} {name} c={concurrency}: {point['texts_per_second']:.1f} texts/s "
                f"p99 {point['p99'] * 1000:.0f} ms errors {point['errors']} unfinished {point['unfinished']}"
            )
        for batch_size, delay in sweep:
            results["sweep"] += sweep_point(client, server, variant, payloads, plan, batch_size, delay, workers)
    except BaseException:
        log(f"{variant.name}: server log tail:\n{server.all_logs()[-3000:]}")
        raise
    finally:
        server.stop()
        server.cleanup()


def sweep_point(
    client, server, variant: Variant, payloads: dict, plan: Plan, batch_size: int, delay: int, workers: int
) -> list[dict]:
    """Register the variant's archive again with another batchSize / maxBatchDelay, measure, unregister."""
    from tools.manage import wait_ready

    name = f"sweep_b{batch_size}_d{delay}"
    client.register(
        f"{variant.archive}.mar", model_name=name, workers=workers, batch_size=batch_size, max_batch_delay=delay
    )
    try:
        wait_ready(client, name, inference_url=server.inference_url, timeout=240)
        warm_up(f"{server.inference_url}/predictions/{name}", payloads, plan)
        runs: dict = {}
        for repeat in range(plan.sweep_repeats):
            for workload in plan.sweep_workloads:
                for concurrency in plan.sweep_concurrencies:
                    result = measure(server, name, _rotate(payloads[workload], repeat), concurrency, plan, workers)
                    runs.setdefault((workload, concurrency), []).append(result)
        points = []
        for (workload, concurrency), found in runs.items():
            point = {"variant": variant.name, "batch_size": batch_size, "max_batch_delay": delay,
                     "workload": workload, "concurrency": concurrency, **summarise(found)}  # fmt: skip
            log(
                f"sweep {variant.name} batchSize={batch_size} maxBatchDelay={delay} {workload} c={concurrency}: "
                f"{point['texts_per_second']:.1f} texts/s p99 {point['p99'] * 1000:.0f} ms"
            )
            points.append(point)
        return points
    finally:
        client.unregister(name)


def args_config(shipped: dict, store: Path) -> Path:
    """The shipped model-config written next to the store (the gate reads its handler settings)."""
    import yaml

    path = store.parent / f"{store.name}-gate.yaml"
    path.write_text(yaml.safe_dump(shipped, sort_keys=False))
    return path


def warm_up(url: str, payloads: dict, plan: Plan) -> None:
    """Warm the frontend's JIT, the workers and the model's kernels on short and long texts (not measured)."""
    seconds = min(2.0, plan.load_seconds)
    run_load(url, payloads["short"], plan.headline_concurrency, max_requests=10_000, max_seconds=seconds)
    run_load(url, payloads["mixed"], plan.headline_concurrency, max_requests=1000, max_seconds=seconds)


def measure(server, model: str, payloads: list, concurrency: int, plan: Plan, workers: int):
    """One closed-loop run on `model`, with what the server's metrics counted during it."""
    url = f"{server.inference_url}/predictions/{model}"
    before = scrape(server.metrics_url, model)
    result = run_load(url, payloads, concurrency, max_requests=plan.load_max_requests, max_seconds=plan.load_seconds,
                      drain_seconds=plan.drain_seconds)  # fmt: skip
    result.server = server_stats(before, scrape(server.metrics_url, model), result.seconds, workers)
    return result


COUNTERS = (
    "bert_batches_total", "bert_texts_total", "bert_tokens_total", "bert_padded_tokens_total",
    "bert_model_milliseconds_total", "bert_tokenize_milliseconds_total", "ts_inference_requests_total",
    "ts_inference_latency_microseconds", "ts_queue_latency_microseconds",
)  # fmt: skip


def scrape(metrics_url: str, model: str) -> dict[str, float]:
    """The model's counters from TorchServe's Prometheus endpoint (empty if it is not there)."""
    import requests

    try:
        text = requests.get(f"{metrics_url}/metrics", timeout=10).text
    except requests.RequestException:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name in COUNTERS and (f'ModelName="{model}"' in rest or f'model_name="{model}"' in rest):
            try:
                values[name] = values.get(name, 0.0) + float(rest.rsplit(" ", 1)[-1])
            except ValueError:
                continue
    return values


def server_stats(before: dict, after: dict, seconds: float, workers: int) -> dict:
    """Per-run facts from the server's counters: texts per batch, padding, how busy the model was, and where a
    request's time went on the server (queue vs worker)."""
    delta = {key: after[key] - before.get(key, 0.0) for key in after}
    stats = {}
    if delta.get("bert_batches_total"):
        stats["texts_per_batch"] = delta.get("bert_texts_total", 0.0) / delta["bert_batches_total"]
        stats["model_ms_per_batch"] = delta.get("bert_model_milliseconds_total", 0.0) / delta["bert_batches_total"]
    if delta.get("bert_tokens_total"):
        stats["padding"] = delta.get("bert_padded_tokens_total", 0.0) / delta["bert_tokens_total"]
    if seconds > 0 and "bert_model_milliseconds_total" in delta:
        stats["model_busy"] = delta["bert_model_milliseconds_total"] / 1000 / (seconds * max(1, workers))
    if seconds > 0 and "bert_tokenize_milliseconds_total" in delta:
        stats["tokenize_busy"] = delta["bert_tokenize_milliseconds_total"] / 1000 / (seconds * max(1, workers))
    requests = delta.get("ts_inference_requests_total")
    if requests:
        stats["server_ms"] = delta.get("ts_inference_latency_microseconds", 0.0) / requests / 1000
        stats["queue_ms"] = delta.get("ts_queue_latency_microseconds", 0.0) / requests / 1000
    return stats


def summarise(found: list) -> dict:
    """Medians over the repetitions of one point; errors summed."""
    errors: dict = {}
    for result in found:
        for key, count in result.errors.items():
            errors[key] = errors.get(key, 0) + count
    return {
        "runs": len(found),
        "texts_per_second": median([r.texts_per_second for r in found]),
        "texts_per_second_runs": [r.texts_per_second for r in found],
        "requests_per_second": median([r.requests_per_second for r in found]),
        "flops_per_second": median([r.flops_per_second for r in found]),
        "p50": median([r.latency(50) for r in found]),
        "p90": median([r.latency(90) for r in found]),
        "p99": median([r.latency(99) for r in found]),
        "requests": sum(r.requests for r in found),
        "unfinished": sum(r.unfinished for r in found),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "client_cpu": median([r.client_cpu_seconds / r.seconds if r.seconds else 0.0 for r in found]),
        "foreign_cores": median([r.foreign_cores for r in found]),
        "server": {
            key: median([r.server[key] for r in found if key in r.server])
            for key in dict.fromkeys(key for r in found for key in r.server)
        },
    }


def _rotate(items: list, repeat: int) -> list:
    """Each repetition starts at another place in the workload."""
    offset = (repeat * 397) % len(items)
    return items[offset:] + items[:offset]


def _worker_facts(model_log: str) -> dict:
    """What the handler logged at load: the engine, dtype and torch threads of each worker, how `auto` chose
    (the probe's figures) and the CPU flags."""
    found = re.findall(r"dtype=(\w+)\s+torch_threads=(\d+)", model_log)
    if not found:
        return {}
    facts = {"dtype": found[-1][0], "torch_threads": int(found[-1][1]), "workers_logged": len(found)}
    chosen = re.findall(r"engine=(\w+) dtype=\w+ .* chosen by (.*?\)|settings \(one candidate\)) cpu=(.*?) settings=",
                        model_log)  # fmt: skip
    if chosen:
        facts |= {"engine": chosen[-1][0], "chosen_by": chosen[-1][1], "cpu_isa": chosen[-1][2]}
    return facts


if __name__ == "__main__":
    sys.exit(main())
