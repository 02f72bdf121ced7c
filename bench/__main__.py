"""`python -m bench --out docs/reports [--quick]`: the whole benchmark in one run, then bench.md, bench.png and the raw
results (bench-results.json) in `--out`.

1. machine description and matmul peaks (fp32, bf16);
2. workloads from the BBC corpus (short, mixed, long), their tokens and model FLOPs;
3. held-out accuracy fp32 vs bf16 (in process);
4. the in-process ceiling per workload and precision (best of layouts, batch sizes, length sorting);
5. the real TorchServe serving .mar archives built from the shipped model-config.yaml (and variants of it)
   under closed-loop load at several concurrencies, each point repeated, medians reported; `engine: auto` also
   in rounds paired with the best engine's ceiling (`bench.paired`);
6. a batchSize / maxBatchDelay sweep: one variant's archive registered again with other values;
7. the report (`bench.report`, which can render it again from the raw results).

`--variants a,b` picks served variants (see `bench.plan.catalog`), `--skip accuracy,ceiling,served,sweep` drops
phases (for exploring; the committed report comes from a full run).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import shlex
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _folder in (ROOT, ROOT / "handlers"):  # tools/, and the serving core that lives next to the handler
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from .plan import QUICK, Plan  # noqa: E402
from .records import ModelInfo, Results, WorkloadSummary  # noqa: E402
from .served import build_engines_once  # noqa: E402

NEEDED = ("aiohttp", "matplotlib", "yaml", "psutil", "dacite")
PHASES = ("accuracy", "ceiling", "served", "sweep")
QUIET_WAIT_SECONDS = 120


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    missing = [name for name in NEEDED if not _importable(name)]
    if missing:
        log(f"error: {', '.join(missing)} missing: `pip install -e '.[bench]'` (or `make bench`)")
        return 2
    started = time.perf_counter()
    results = run(args, QUICK if args.quick else Plan())
    results.duration_seconds = time.perf_counter() - started
    from .report import write_report

    paths = write_report(results, Path(args.out))
    log(f"done in {results.duration_seconds / 60:.1f} min: " + ", ".join(str(p) for p in paths))
    return 0


def _importable(name: str) -> bool:
    from importlib.util import find_spec

    return find_spec(name) is not None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/reports", help="folder for bench.md, bench.png, bench-results.json")
    parser.add_argument("--model-dir", default=str(ROOT / "artifacts"), help="save_pretrained folder")
    parser.add_argument("--config", default=str(ROOT / "model-config.yaml"), help="the shipped model-config")
    parser.add_argument("--quick", action="store_true", help="a short smoke run (numbers are rough)")
    parser.add_argument("--variants", type=lambda text: text.split(","), help="served variants to run (comma list)")
    parser.add_argument(
        "--allow-busy", action="store_true", help="run even if the machine is busy (the report then says so)"
    )
    parser.add_argument(
        "--skip", type=lambda text: text.split(","), default=[], help=f"phases to skip: {', '.join(PHASES)}"
    )
    args = parser.parse_args(argv)
    unknown = set(args.skip) - set(PHASES)
    if unknown:
        parser.error(f"--skip: unknown phase(s) {', '.join(sorted(unknown))}")
    args.command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def phase(results: Results, name: str):
    """Log a phase and record its duration in `results.phases`."""
    log(f"{name} ...")
    started = time.perf_counter()
    yield
    results.phases[name] = round(time.perf_counter() - started, 1)
    log(f"{name} took {results.phases[name]:.0f} s")


def run(args: argparse.Namespace, plan: Plan) -> Results:
    """Every phase the arguments ask for, into one `Results`."""
    import torch

    from bert_classifier.device import cpu_supports_bf16, select_dtype, usable_cores
    from bert_classifier.settings import read_model_config, settings_from_model_config

    from .machine import describe_machine, measure_peaks, param_count

    model_dir = Path(args.model_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise SystemExit(f"error: {model_dir} has no model.safetensors (run `make model` or pass --model-dir)")
    shipped = read_model_config(args.config)
    settings = dataclasses.asdict(settings_from_model_config(shipped, env={}))
    cores, bf16 = usable_cores(), cpu_supports_bf16()
    auto_dtype = str(select_dtype(torch.device("cpu"), settings["precision"])).removeprefix("torch.")
    frontend = {key: value for key, value in shipped.items() if key != "handler"}
    results = Results(
        command=args.command,
        quick=args.quick,
        plan=plan,
        started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        machine=describe_machine(cores, bf16),
        model=ModelInfo(str(model_dir), settings, frontend, auto_dtype, params=param_count(model_dir)),
    )
    if not args.allow_busy:
        results.machine.busy_percent_before = wait_until_quiet(results.machine.busy_percent_before)
    with phase(results, "peaks"):
        results.peaks = measure_peaks(cores, plan.peak_seconds)
        log(f"matmul peaks: fp32 {results.peaks.fp32 / 1e9:.0f}, bf16 {results.peaks.bf16 / 1e9:.0f} GFLOP/s")
    with phase(results, "workloads"):
        workloads = build_workloads(model_dir, settings, plan, results)
    precisions = ["fp32", "bf16"] if bf16 else ["fp32"]
    if "accuracy" not in args.skip:
        with phase(results, "accuracy"):
            results.accuracy = measure_accuracy(model_dir, settings, precisions, plan, cores)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        store, model_dirs = Path(scratch) / "store", {"torch": model_dir}
        store.mkdir()
        emulation = avx2_emulation(args, plan, bf16, cores, Path(scratch))
        if {"ceiling", "served"} - set(args.skip):
            with phase(results, "engines"):
                engines_dir, results.engines = build_engines_once(store, model_dir, shipped, plan)
                model_dirs["onnxruntime"] = onnx_model_dir(model_dir, engines_dir, Path(scratch) / "onnx-model")
        if "ceiling" not in args.skip:
            from .ceiling import measure_ceiling

            variants = [f"torch-{p}" for p in precisions] + ["onnxruntime-fp32", "onnxruntime-int8"]
            with phase(results, "ceiling"):
                results.ceiling = measure_ceiling(model_dirs, settings, variants, workloads, plan, cores, log,
                                                  emulation)  # fmt: skip
        if "served" not in args.skip:
            from .load import grouped_payloads, json_payloads
            from .paired import plan_pairings
            from .plan import MULTI_TEXTS, MULTI_WORKLOAD
            from .served import run_served

            payloads = {
                name: json_payloads(w.texts, w.tokens, flops, w.pairs) for name, (w, flops) in workloads.items()
            }
            payloads[MULTI_WORKLOAD] = grouped_payloads(payloads["short"], MULTI_TEXTS)
            pairings = plan_pairings(results, model_dirs, settings, workloads, emulation)
            with phase(results, "served"):
                run_served(store, model_dir, engines_dir, shipped, payloads, plan, results, log,
                           names=args.variants, sweep_too="sweep" not in args.skip, pairings=pairings)  # fmt: skip
    return results


def avx2_emulation(args: argparse.Namespace, plan: Plan, bf16: bool, cores: int, scratch: Path) -> dict | None:
    """The AVX2 emulation's environment when a served variant runs on it and is measured (its ceiling is measured
    on the same emulated CPU), else None."""
    from .isa import avx2_environment
    from .plan import chosen_variants

    emulated = any(v.avx2 for v in chosen_variants(plan, bf16, cores, args.variants))
    wanted = emulated and not {"ceiling", "served"} & set(args.skip)
    return avx2_environment(scratch / "store-isa") if wanted else None


def onnx_model_dir(model_dir: Path, engines_dir: Path, folder: Path) -> Path:
    """The model folder as a worker of the ONNX archive sees it: model files and the ONNX export side by side."""
    folder.mkdir()
    for source in [*model_dir.iterdir(), *engines_dir.iterdir()]:
        (folder / source.name).symlink_to(source.resolve())
    return folder


def wait_until_quiet(busy: float | None, seconds: float = QUIET_WAIT_SECONDS) -> float | None:
    """The machine's busy share once it is at most `BUSY_BEFORE_PERCENT` (polled for up to `seconds`); a machine
    still busy then ends the run: its figures would compare the bench with whatever else ran."""
    import psutil

    from .report.lookups import BUSY_BEFORE_PERCENT

    deadline = time.monotonic() + seconds
    while busy is not None and busy > BUSY_BEFORE_PERCENT:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"error: the machine is {busy:.0f}% busy (more than {BUSY_BEFORE_PERCENT:.0f}%) before the bench: "
                "stop what else runs, or pass --allow-busy (the report will mark the run as disturbed)"
            )
        log(f"machine {busy:.0f}% busy: waiting for it to be quiet")
        busy = psutil.cpu_percent(interval=2.0)
    return busy


def build_workloads(model_dir: Path, settings: dict, plan: Plan, results: Results) -> dict:
    """{name: (workload with its tokens, FLOPs per text)}; their summaries and the model's size into `results`."""
    from transformers import AutoConfig, AutoTokenizer

    from training.corpus import load_corpus

    from .peaks import EncoderShape, sequence_flops
    from .workloads import PAIR_WORKLOAD, WORKLOADS, build_workload, measure_tokens

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    shape = EncoderShape.from_config(AutoConfig.from_pretrained(str(model_dir), local_files_only=True))
    results.model.matmul_params = shape.matmul_params
    articles = load_corpus()
    workloads = {}
    for name in (*WORKLOADS, PAIR_WORKLOAD):
        workload = measure_tokens(build_workload(name, articles, plan.workload_size), tokenizer, settings["max_length"])
        flops = [sequence_flops(shape, tokens) for tokens in workload.tokens]
        workloads[name] = (workload, flops)
        results.workloads.append(
            WorkloadSummary(name, len(workload.texts), workload.long_share, workload.mean_tokens,
                            max(workload.tokens), sum(flops) / len(flops))
        )  # fmt: skip
        log(
            f"workload {name}: {len(workload.texts)} texts, {workload.long_share:.0%} whole articles, "
            f"{workload.mean_tokens:.0f} tokens/text"
        )
    return workloads


def measure_accuracy(model_dir: Path, settings: dict, precisions: list[str], plan: Plan, cores: int):
    from .accuracy import measure_accuracy as held_out_accuracy

    report = held_out_accuracy(model_dir, settings, precisions, limit=plan.accuracy_limit, threads=cores)
    for r in report.results:
        log(f"accuracy {r.precision} ({r.dtype}): {r.correct}/{r.total} = {r.accuracy:.2%} in {r.seconds:.1f} s")
    return report


if __name__ == "__main__":
    sys.exit(main())
