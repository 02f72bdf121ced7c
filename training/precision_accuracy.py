"""Held-out accuracy of a saved model through the serving core, once per precision, with the serving settings.

Used by `make model` (the model card's "Serving precision" section) and `make bench` (its accuracy table), so
the fast path's accuracy bound is measured the same way in both.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bert_classifier.model import TextClassifier


@dataclass
class PrecisionAccuracy:
    precision: str
    """What was asked for: a precision, or a variant name (`onnxruntime-int8`) for the accuracy gate."""
    dtype: str
    """The precision that ran (bf16 falls back to fp32 on a CPU without native bf16)."""
    correct: int
    total: int
    seconds: float
    agreement: float = 1.0
    """Share of texts whose top label is the reference's (the first measured)."""

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

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "results": [asdict(r) | {"accuracy": r.accuracy} for r in self.results],
            "delta_points": self.delta_points,
            "agreement": self.agreement,
            "max_score_difference": self.max_score_difference,
        }


def measure_accuracy(
    model_dir: Path,
    pairs: Sequence[tuple[str, str]],
    source: str,
    settings: dict,
    precisions: Sequence[str] = ("fp32", "bf16"),
    threads: int | None = None,
) -> AccuracyReport:
    """Classify the (text, label) pairs once per torch precision with otherwise identical `Settings` fields."""
    from bert_classifier.model import TextClassifier
    from bert_classifier.settings import Settings

    def loader(precision: str):
        return lambda: TextClassifier.load(
            model_dir, Settings(**{**settings, "engine": "torch", "precision": precision}), "cpu"
        )

    return measure_classifiers([(p, loader(p)) for p in precisions], pairs, source, threads)


def measure_classifiers(
    named: Sequence[tuple[str, Callable[[], TextClassifier]]],
    pairs: Sequence[tuple[str, str]],
    source: str,
    threads: int | None = None,
) -> AccuracyReport:
    """Classify the (text, label) pairs with each named classifier, loaded one at a time; the first is the
    reference that `agreement` and `max_score_difference` compare the others with."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    texts = [text for text, _ in pairs]
    report = AccuracyReport(source)
    all_scores, tops = [], []
    for name, load in named:
        classifier = load()
        started = time.perf_counter()
        scores, _ = classifier.classify(texts)
        seconds = time.perf_counter() - started
        top = [max(range(len(s.scores)), key=s.scores.__getitem__) for s in scores]
        correct = sum(classifier.labels[t] == truth for t, (_, truth) in zip(top, pairs, strict=True))
        agreement = sum(a == b for a, b in zip(top, tops[0] if tops else top, strict=True)) / max(1, len(texts))
        precision = classifier.engine.variant.precision
        report.results.append(PrecisionAccuracy(name, precision, correct, len(pairs), seconds, agreement))
        all_scores.append([s.scores for s in scores])
        tops.append(top)
        del classifier
    if len(all_scores) > 1 and texts:
        first = all_scores[0]
        report.agreement = sum(len({t[i] for t in tops}) == 1 for i in range(len(texts))) / len(texts)
        report.max_score_difference = max(
            abs(a - b)
            for other in all_scores[1:]
            for sa, sb in zip(first, other, strict=True)
            for a, b in zip(sa, sb, strict=True)
        )
    return report
