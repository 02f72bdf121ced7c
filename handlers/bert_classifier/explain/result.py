"""The result object of one explained text, and the media types an explanation is answered in."""

from __future__ import annotations

from collections.abc import Sequence

from ..codecs import choose_response_format
from ..codecs.negotiation import CSV, JSON, JSON_LINES
from ..errors import NotAcceptable, quote_name
from .attribution import TokenAttributions
from .words import ReadText, word_attributions

PARTS = ("text", "text_pair")
EXPLANATION_TYPES = (JSON, JSON_LINES)
"""Words per text do not fit a CSV row: explanations are JSON, or JSON lines (one text per line) for CSV and
JSON-lines requests."""


def explanation_format(accept: str | None, request_format: str) -> str:
    """The response type for an explanation request: as for predictions, but never CSV (a CSV request gets JSON
    lines, one line per row, unless Accept asks for JSON); `NotAcceptable` if Accept allows neither."""
    chosen = choose_response_format(accept, JSON_LINES if request_format == CSV else request_format)
    if chosen not in EXPLANATION_TYPES:
        raise NotAcceptable(
            f"cannot produce any of Accept: {quote_name(accept)} for an explanation; available: "
            f"{', '.join(EXPLANATION_TYPES)}"
        )
    return chosen


def format_explanation(
    texts: tuple[str, ...],
    read: ReadText,
    attributions: TokenAttributions,
    scores: Sequence[float],
    labels: Sequence[str],
    target: int,
    predicted: int,
    steps: int,
) -> dict:
    """`{"label", "label_id", "score"}` of the explained label, the predicted label, `truncated`, the words in text
    order (`word`, `start`, `end`, `attribution`; for a text pair also `part`, `text` or `text_pair`, the text whose
    characters `start` and `end` count), and what they add up to: `log_score - baseline_log_score`, within
    `convergence_delta`."""
    values = word_attributions(read.words, attributions.values)
    words = [
        {"word": texts[word.part][word.start : word.end], "start": word.start, "end": word.end,
         "attribution": _round(value)} | ({"part": PARTS[word.part]} if len(texts) > 1 else {})
        for word, value in zip(read.words, values, strict=True)
    ]  # fmt: skip
    return {
        "label": labels[target],
        "label_id": target,
        "score": round(float(scores[target]), 6),
        "predicted_label": labels[predicted],
        "truncated": read.truncated,
        "words": words,
        "log_score": _round(attributions.log_probability),
        "baseline_log_score": _round(attributions.baseline_log_probability),
        "convergence_delta": _round(attributions.delta),
        "steps": steps,
    }


def _round(value: float) -> float:
    return round(float(value), 6)
