"""Held-out accuracy of the model in fp32 and bf16, in process, with the shipped handler settings.

The test set is the model's own `split.json` (`{"test": [{"path": "<topic>/NNN.txt", "label"}, ...]}` or a
plain list of such items), read by `training.corpus` as training read it. Without one (an untrained checkpoint
during development) a seeded 20% sample of the corpus stands in, and the result says so.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from training.corpus import load_corpus, read_article
from training.precision_accuracy import AccuracyReport
from training.precision_accuracy import measure_accuracy as precision_accuracy


def held_out_items(model_dir: Path, corpus: Path | None = None) -> tuple[list[tuple[str, str]], str]:
    """(text, label) pairs of the held-out test set and a description of where they came from."""
    split = Path(model_dir) / "split.json"
    if split.is_file():
        data = json.loads(split.read_text(encoding="utf-8"))
        items = data.get("test", []) if isinstance(data, dict) else data
        pairs = [(read_article(item["path"], corpus).strip(), item["label"]) for item in items]
        return pairs, f"{split.name}: {len(pairs)} held-out articles"
    articles = load_corpus(corpus)
    sample = random.Random(0).sample(articles, k=max(1, len(articles) // 5))  # noqa: S311 - seeded, not crypto
    return [(a.text.strip(), a.label) for a in sample], f"no split.json: a seeded 20% sample ({len(sample)} articles)"


def measure_accuracy(
    model_dir: Path, settings: dict, precisions=("fp32", "bf16"), limit: int | None = None, threads: int | None = None
) -> AccuracyReport:
    """The model's held-out articles (or the stand-in sample), classified once per precision."""
    pairs, source = held_out_items(model_dir)
    return precision_accuracy(model_dir, pairs[:limit] if limit else pairs, source, settings, precisions, threads)
