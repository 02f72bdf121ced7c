"""`python -m reliability --out docs/reports [--soak-seconds N] [--quick]`: the reliability suite of issue 11
against the real TorchServe, then docs/reports/reliability.md and docs/reports/reliability.json.

1. the catalog of bad inputs, each sent with good neighbours in one batch (`reliability.neighbours`);
2. overload at 4x the sustainable rate, per job-queue size (`reliability.overload`);
3. the soak: mixed traffic at half of capacity (`reliability.soak`);
4. a worker SIGKILLed under load; a model that cannot load (`reliability.faults`);
5. SIGTERM with requests in flight and a dead frontend under the SageMaker entrypoint (`reliability.drain`);
6. the privacy canary searched for in every log the run wrote (`reliability.canary`);
7. the report (`reliability.report`). The exit status is 1 when any check failed, 0 when all held.

`--render docs/reports/reliability.json` writes the report again from saved results, without running anything.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import os
import shlex
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _folder in (ROOT, ROOT / "handlers"):  # tools/, bench/, and the serving core that lives next to the handler
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from .results import RunResult, from_json  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .report import all_problems, write_report

    result = from_json(Path(args.render).read_text()) if args.render else run(args)
    paths = write_report(result, Path(args.out))
    problems = all_problems(result)
    log(f"{len(problems)} problems; wrote " + ", ".join(str(path) for path in paths))
    for problem in problems:
        log(f"  {problem}")
    return 1 if problems else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from .phases import PHASES

    parser = argparse.ArgumentParser(prog="python -m reliability", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="docs/reports", help="folder for reliability.md and .json")
    parser.add_argument("--model-dir", default=str(ROOT / "artifacts"), help="the trained save_pretrained folder")
    parser.add_argument("--soak-seconds", type=float, help="length of the soak (default 600; 30 with --quick)")
    parser.add_argument("--quick", action="store_true", help="the fast subset: short load phases, no variants")
    parser.add_argument("--only", type=lambda text: set(text.split(",")), default=set(PHASES),
                        help=f"phases to run (comma list of {', '.join(PHASES)})")  # fmt: skip
    parser.add_argument("--cases", help="run only catalog cases whose name contains one of these (comma list)")
    parser.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=None,
                        help="archive as `make archive` does, with the ONNX engines and the accuracy gate "
                        "(default: on, off with --quick)")  # fmt: skip
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' folders (logs) after the run")
    parser.add_argument("--render", metavar="JSON", help="only render the report from saved results")
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "reliability", *(argv if argv is not None else sys.argv[1:])])
    return args


def log(message: str) -> None:
    print(f"[reliability {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> RunResult:
    from .catalog import build_catalog
    from .limits import read_limits
    from .phases import QUICK, Plan, canary_phase, catalog_phase, entrypoint_phases, load_phases, unloadable_phase
    from .served import Archives

    model_dir = Path(args.model_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise SystemExit(f"error: {model_dir} has no model.safetensors (run `make model` or pass --model-dir)")
    plan = QUICK if args.quick else Plan()
    if args.soak_seconds:
        plan = dataclasses.replace(plan, soak=dataclasses.replace(plan.soak, seconds=args.soak_seconds))
    limits = read_limits()
    cases = [c for c in build_catalog(limits) if not args.cases or any(n in c.name for n in args.cases.split(","))]
    started = time.perf_counter()
    result = RunResult(command=args.command, quick=args.quick, machine=machine(), limits=dataclasses.asdict(limits),
                       started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"))  # fmt: skip
    log_dirs: list[Path] = []
    log("packing the model")
    onnx = not args.quick if args.onnx is None else args.onnx
    result.archive = "as `make archive` builds it (torch + ONNX engines, engine: auto)" if onnx else "torch only"
    archives = Archives.build(model_dir, onnx=onnx)
    phase = Phase(result)
    try:
        if "cases" in args.only:
            log(f"catalog: {len(cases)} kinds of bad input")
            with phase("catalog"):
                catalog_phase(archives, limits, cases, result, log_dirs, log)
        if args.only & {"overload", "soak", "kill"}:
            with phase("overload, soak, kill"):
                load_phases(archives, limits, cases, plan, args.only, result, log_dirs, log)
        if "unloadable" in args.only:
            with phase("unloadable model"):
                unloadable_phase(archives, plan, result, log_dirs, log)
        with phase("SageMaker entrypoint"):
            entrypoint_phases(model_dir, plan, args.only, result, log_dirs, log)
        if "canary" in args.only:
            result.canary = canary_phase(log_dirs)
            log(f"canary: {len(result.canary.hits)} hits in {len(result.canary.files)} log files")
    finally:
        archives.cleanup()
        if not args.keep_logs:
            for folder in log_dirs:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            log("logs kept in " + ", ".join(map(str, log_dirs)))
    result.seconds = time.perf_counter() - started
    result.machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


class Phase:
    """`with phase("name"):` runs one phase; if the suite itself fails there (a server that does not start on a
    loaded host), the run goes on and the report says which phase could not be measured, and why."""

    def __init__(self, result: RunResult) -> None:
        self.result = result

    @contextlib.contextmanager
    def __call__(self, name: str):
        try:
            yield
        except Exception as error:  # noqa: BLE001 - one phase's harness failure must not lose the others
            log(f"{name}: could not be measured:\n{traceback.format_exc()}")
            self.result.errors.append(f"{name}: could not be measured: {type(error).__name__}: {error}")


def machine() -> dict:
    """The bench's machine description (CPU, cores, versions, how busy the machine was at the start)."""
    from bench.machine import describe_machine
    from bert_classifier.device import cpu_supports_bf16, usable_cores

    return dataclasses.asdict(describe_machine(usable_cores(), cpu_supports_bf16()))


if __name__ == "__main__":
    sys.exit(main())
