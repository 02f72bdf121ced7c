"""Held-out accuracy of the model in fp32 and bf16, in process, with the shipped handler settings.

The test set is the model's own `split.json` (`{"test": [{"path": "<topic>/NNN.txt", "label"}, ...]}` or a
plain list of such items), read relative to the corpus folder. Without one (an untrained checkpoint during
development) a seeded 20% sample of the corpus stands in, and the result says so.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from .workloads import Article, corpus_dir, load_articles


@dataclass
class PrecisionAccuracy:
    precision: str
    """What was asked for."""
    dtype: str
    """What ran (bf16 falls back to fp32 on a CPU without native bf16)."""
    correct: int
    total: int
    seconds: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


@dataclass
class AccuracyReport:
    source: str
    """Where the test items came from."""
    results: list[PrecisionAccuracy] = field(default_factory=list)
    agreement: float = 0.0
    """Share of test texts whose top label is the same in every precision."""
    max_score_difference: float = 0.0
    """Largest absolute difference of any label score between the precisions."""

    def by_precision(self, precision: str) -> PrecisionAccuracy | None:
        return next((r for r in self.results if r.precision == precision), None)

    @property
    def delta_points(self) -> float:
        """bf16 accuracy minus fp32 accuracy, in percentage points."""
        fp32, bf16 = self.by_precision("fp32"), self.by_precision("bf16")
        return 100 * (bf16.accuracy - fp32.accuracy) if fp32 and bf16 else 0.0


def held_out_items(model_dir: Path, folder: Path | None = None) -> tuple[list[tuple[str, str]], str]:
    """(text, label) pairs of the held-out test set and a description of where they came from."""
    folder = folder or corpus_dir()
    split = Path(model_dir) / "split.json"
    if split.is_file():
        data = json.loads(split.read_text(encoding="utf-8"))
        items = data.get("test", []) if isinstance(data, dict) else data
        pairs = [
            ((folder / item["path"]).read_text(encoding="utf-8", errors="replace").strip(), item["label"])
            for item in items
        ]
        return pairs, f"{split.name}: {len(pairs)} held-out articles"
    articles: list[Article] = load_articles(folder)
    sample = random.Random(0).sample(articles, k=max(1, len(articles) // 5))  # noqa: S311 - seeded, not crypto
    return [(a.text, a.label) for a in sample], f"no split.json: a seeded 20% sample ({len(sample)} articles)"


def measure_accuracy(
    model_dir: Path, settings: dict, precisions=("fp32", "bf16"), limit: int | None = None, threads: int | None = None
) -> AccuracyReport:
    """Classify the test set once per precision with otherwise identical settings."""
    import torch

    from bert_classifier.model import TextClassifier
    from bert_classifier.settings import Settings

    if threads:
        torch.set_num_threads(threads)
    pairs, source = held_out_items(model_dir)
    pairs = pairs[:limit] if limit else pairs
    texts = [text for text, _ in pairs]
    report = AccuracyReport(source)
    all_scores = []
    for precision in precisions:
        classifier = TextClassifier.load(model_dir, Settings(**{**settings, "precision": precision}), "cpu")
        started = time.perf_counter()
        scores, _ = classifier.classify(texts)
        seconds = time.perf_counter() - started
        labels = [classifier.labels[max(range(len(s.scores)), key=s.scores.__getitem__)] for s in scores]
        correct = sum(label == truth for label, (_, truth) in zip(labels, pairs, strict=True))
        dtype = str(classifier.dtype).removeprefix("torch.")
        report.results.append(PrecisionAccuracy(precision, dtype, correct, len(pairs), seconds))
        all_scores.append([s.scores for s in scores])
    if len(all_scores) > 1 and texts:
        first = all_scores[0]
        tops = [[max(range(len(s)), key=s.__getitem__) for s in run] for run in all_scores]
        report.agreement = sum(len({t[i] for t in tops}) == 1 for i in range(len(texts))) / len(texts)
        report.max_score_difference = max(
            abs(a - b)
            for other in all_scores[1:]
            for sa, sb in zip(first, other, strict=True)
            for a, b in zip(sa, sb, strict=True)
        )
    return report
