"""`Explainer`: the limits of an explanation request, then one text at a time: read, score, attribute, format."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..codecs import ParsedRequest
from ..errors import InvalidInput, PayloadTooLarge, TooManyRequests, quote_name
from ..settings import Settings
from .attribution import Attributor
from .result import format_explanation
from .words import ReadText, read_pair, read_text

log = logging.getLogger(__name__)


class ExplanationBudget:
    """The texts one batch may still explain (`max_explained_texts_per_batch`)."""

    def __init__(self, texts: int) -> None:
        self.limit = texts
        self.used = 0

    def take(self, texts: int) -> None:
        if self.used + texts > self.limit:
            raise TooManyRequests(
                f"this batch already explains {self.used} texts and the limit is {self.limit} "
                "(max_explained_texts_per_batch); retry the request"
            )
        self.used += texts


class Explainer:
    """Explains texts with the classifier's model; the fp32 attributor is built at the first explanation."""

    def __init__(self, classifier, settings: Settings) -> None:
        self.classifier = classifier
        self.settings = settings
        self.max_tokens = min(settings.max_explained_tokens, settings.max_length)
        self._attributor: Attributor | None = None

    def explain(self, parsed: ParsedRequest, budget: ExplanationBudget) -> list[dict]:
        """One explanation per text. Raises a 413 over `max_texts_per_explanation`, a 400 for a bad `steps` or
        `target`, a 429 when the batch's budget is spent: all before any work is done."""
        texts = parsed.texts
        limit = self.settings.max_texts_per_explanation
        if len(texts) > limit:
            raise PayloadTooLarge(
                f"{len(texts)} texts to explain in one request; the limit is {limit} (max_texts_per_explanation)"
            )
        steps = self._steps(parsed.parameters.steps)
        targets = self._targets(parsed.parameters.target, len(texts))
        budget.take(len(texts))
        attributor = self._attributor or self._load()
        pairs = parsed.pairs or (None,) * len(texts)
        return [
            self._explain(attributor, (text, pair) if pair is not None else (text,), target, steps)
            for text, pair, target in zip(texts, pairs, targets, strict=True)
        ]

    def _explain(self, attributor: Attributor, texts: tuple[str, ...], target: int | None, steps: int) -> dict:
        """One text's explanation, or a pair's (`texts` holds both; its words say which text each is in)."""
        read = self._read(texts)
        scores = attributor.probabilities(read.token_ids, read.type_ids)
        predicted = max(range(len(scores)), key=lambda i: (scores[i], -i))
        target = predicted if target is None else target
        attributions = attributor.attribute(read.token_ids, target, steps, read.type_ids, read.special)
        return format_explanation(texts, read, attributions, scores, self.classifier.labels, target, predicted, steps)

    def _read(self, texts: tuple[str, ...]) -> ReadText:
        tokenizer = self.classifier.tokenizer
        if len(texts) == 1:
            return read_text(tokenizer, texts[0], self.max_tokens)
        return read_pair(tokenizer, self.classifier.segmenter.pair_template, texts, self.max_tokens)

    def _load(self) -> Attributor:
        self._attributor = Attributor.for_classifier(self.classifier, self.max_tokens)
        return self._attributor

    def _steps(self, asked: int | None) -> int:
        if asked is None:
            return self.settings.explain_steps
        limit = self.settings.max_explain_steps
        if asked > limit:
            raise InvalidInput(f"parameter 'steps' is {asked}; the limit is {limit} (max_explain_steps)")
        return asked

    def _targets(self, target, texts: int) -> Sequence[int | None]:
        """The label id to explain per text (None: the predicted label)."""
        if not isinstance(target, tuple):
            return [self._label_id(target)] * texts
        if len(target) != texts:
            raise InvalidInput(f"parameter 'target' lists {len(target)} labels for {texts} texts")
        return [self._label_id(label) for label in target]

    def _label_id(self, label: str | int | None) -> int | None:
        labels = self.classifier.labels
        if label is None:
            return None
        if isinstance(label, int) and 0 <= label < len(labels):
            return label
        if isinstance(label, str) and label in labels:
            return labels.index(label)
        raise InvalidInput(
            f"parameter 'target': {quote_name(label)} is not a label of this model; labels: {', '.join(labels)} "
            f"(or their ids 0-{len(labels) - 1})"
        )
