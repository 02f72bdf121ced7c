"""Turn a text's label probabilities into the result object a client receives."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TextScores:
    """Per-label scores for one text (index = label id) and whether part of the text was not read."""

    scores: tuple[float, ...]
    truncated: bool


def format_result(
    text: TextScores,
    labels: Sequence[str],
    *,
    top_k: int = 1,
    all_scores: bool = False,
    multi_label_threshold: float | None = None,
) -> dict:
    """`{"label", "label_id", "score", "truncated"}` for the best label, plus:

    - `"scores"`: the `top_k` best labels (all of them with `all_scores`), best first, when more than one is asked;
    - `"labels"`: for multi-label models (`multi_label_threshold` set), every label scoring at least the threshold.
    """
    ranked = sorted(range(len(text.scores)), key=lambda i: (-text.scores[i], i))
    result = {**_entry(ranked[0], text, labels), "truncated": text.truncated}
    shown = len(ranked) if all_scores else min(top_k, len(ranked))
    if shown > 1:
        result["scores"] = [_entry(i, text, labels) for i in ranked[:shown]]
    if multi_label_threshold is not None:
        result["labels"] = [_entry(i, text, labels) for i in ranked if text.scores[i] >= multi_label_threshold]
    return result


def _entry(label_id: int, text: TextScores, labels: Sequence[str]) -> dict:
    return {"label": labels[label_id], "label_id": label_id, "score": round(float(text.scores[label_id]), 6)}
