"""`python -m bench.explanations --out docs/reports [--quick]`: what an explanation costs through the real TorchServe,
and what explanations cost the predictions served next to them; then explanations.md and the raw results
(explanations-results.json) in `--out`.

1. the archive (`--mar`, e.g. `make archive`'s, or built from `--model-dir`), served as `make serve` serves it:
   the prediction workers, and the same archive again as `<model>_explain` (1 worker, batchSize 1);
2. cost: the `_explain` worker's first explanation, then one request at a time per kind of text (a sentence, a
   60-word text, a held-out article, two articles in one request), each also sent to `/predictions`;
3. layouts with the `_explain` pool: predictions alone (pool idle), then with explanations on the pool;
4. layouts without it (unregistered): predictions alone, then with explanations on the prediction workers;
5. the report (`bench.explanations.report`).

`--render docs/reports/explanations-results.json` writes the report again from saved results, without measuring.
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
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for _folder in (ROOT, ROOT / "handlers"):  # tools/, and the serving core that lives next to the handler
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))

from .plan import QUICK, Plan  # noqa: E402
from .records import ExplainResults  # noqa: E402
from .report import write_report  # noqa: E402

SETTINGS = ("explain_steps", "max_explain_steps", "max_explained_tokens", "max_texts_per_explanation",
            "max_explained_texts_per_batch", "batch_deadline_seconds")  # fmt: skip
"""The handler settings that bound explanations, reported with the figures."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        results = ExplainResults.load(Path(args.render))
    else:
        started = time.perf_counter()
        results = run(args, QUICK if args.quick else Plan())
        results.duration_seconds = time.perf_counter() - started
    paths = write_report(results, Path(args.out), save_results=not args.render)
    log(f"wrote {', '.join(map(str, paths))}" + (f"; {len(results.errors)} phase(s) failed" if results.errors else ""))
    return 1 if results.errors else 0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.explanations", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", default="docs/reports", help="folder for explanations.md and explanations-results.json"
    )
    parser.add_argument("--model-dir", default=str(ROOT / "artifacts"), help="the trained save_pretrained folder")
    parser.add_argument("--config", default=str(ROOT / "model-config.yaml"), help="model-config.yaml to pack")
    parser.add_argument("--mar", help="serve this archive (e.g. make archive's) instead of building one")
    parser.add_argument("--onnx", action=argparse.BooleanOptionalAction, default=None,
                        help="without --mar: build as `make archive` does, with the ONNX engines and the accuracy "
                        "gate (default: on, off with --quick)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="short phases, a smoke run (numbers are rough)")
    parser.add_argument("--render", metavar="JSON", help="only write the report again from saved results")
    args = parser.parse_args(argv)
    args.command = shlex.join(["python", "-m", "bench.explanations", *(argv if argv is not None else sys.argv[1:])])
    return args


def log(message: str) -> None:
    print(f"[explanations {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, plan: Plan) -> ExplainResults:
    from bert_classifier.device import cpu_supports_bf16, usable_cores

    from ..machine import describe_machine
    from .serving import prepare_store
    from .texts import held_out_articles

    model_dir = Path(args.model_dir)
    if not (model_dir / "model.safetensors").is_file():
        raise SystemExit(f"error: {model_dir} has no model.safetensors (run `make model` or pass --model-dir)")
    articles = held_out_articles(model_dir)
    machine = describe_machine(usable_cores(), cpu_supports_bf16())
    log("packing the model" if not args.mar else f"serving {args.mar}")
    onnx = not args.quick if args.onnx is None else args.onnx
    store, archive = prepare_store(model_dir, Path(args.config), Path(args.mar) if args.mar else None, onnx)
    results = ExplainResults(command=args.command, quick=args.quick, plan=plan, machine=machine, archive=archive,
                             started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                             settings=archive_settings(store), pools={})  # fmt: skip
    try:
        measure(store, model_dir, articles, plan, results)
    finally:
        shutil.rmtree(store, ignore_errors=True)
    results.load_average_after = [round(x, 2) for x in os.getloadavg()]
    return results


def measure(store: Path, model_dir: Path, articles: list[str], plan: Plan, results: ExplainResults) -> None:
    from ..server_metrics import worker_facts
    from .cost import first_explanation, measure_costs
    from .layouts import measure_layouts
    from .serving import EXPLAIN_MODEL, MODEL, Server

    count_tokens = token_counter(model_dir, results.settings["max_explained_tokens"])
    phase = Phase(results)
    server = Server.start(store)
    try:
        results.workers = worker_facts(server.model_log())
        log(f"prediction workers ready: {results.workers}")
        with phase("explain pool"):
            server.register_explain_pool()
            results.pools = {MODEL: server.pool_config(MODEL), EXPLAIN_MODEL: server.pool_config(EXPLAIN_MODEL)}
            results.first_explanation_seconds = first_explanation(server, articles[-1], plan)
            log(f"first explanation on {EXPLAIN_MODEL}: {results.first_explanation_seconds:.1f} s")
            with phase("cost"):
                results.costs = measure_costs(server, articles, count_tokens, plan, log)
            with phase("layouts with the explain pool"):
                results.layouts += measure_layouts(server, articles, plan, log, pool=True)
            server.unregister_explain_pool()
        with phase("layouts without the explain pool"):
            results.layouts += measure_layouts(server, articles, plan, log, pool=False)
    except BaseException:
        log(f"server log tail:\n{server.log_tail()}")
        raise
    finally:
        server.stop()


class Phase:
    """`with phase("name"):` runs one phase; if it fails the run goes on and the report says which phase could
    not be measured, and why."""

    def __init__(self, results: ExplainResults) -> None:
        self.results = results

    @contextlib.contextmanager
    def __call__(self, name: str):
        log(f"{name} ...")
        try:
            yield
        except Exception as error:  # noqa: BLE001 - one phase failing must not lose the others
            log(f"{name}: could not be measured:\n{traceback.format_exc()}")
            self.results.errors.append(f"{name}: {type(error).__name__}: {error}")


def archive_settings(store: Path) -> dict:
    """The explanation settings of the archive served (its own model-config.yaml, environment not applied)."""
    import yaml

    from bert_classifier.settings import settings_from_model_config

    from .serving import MODEL

    with zipfile.ZipFile(store / f"{MODEL}.mar") as archive:
        config = yaml.safe_load(archive.read("model-config.yaml"))
    settings = dataclasses.asdict(settings_from_model_config(config, env={}))
    return {name: settings[name] for name in SETTINGS}


def token_counter(model_dir: Path, limit: int):
    """Tokens of a text as an explanation reads them (special tokens included, at most `limit`)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    return lambda text: len(tokenizer(text, truncation=True, max_length=limit)["input_ids"])


if __name__ == "__main__":
    sys.exit(main())
