"""`InferenceService`: decode -> classify -> encode for a batch of requests, one response per request.

A client's mistake affects only its own request (`messages.guarded` turns it into that request's error response);
the rest of the batch is still classified.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from .batching import plan_rounds
from .codecs import (
    UNNAMED_MODEL,
    ModelIdentity,
    ParsedRequest,
    Protocol,
    choose_response_format,
    decode_request,
    encode_results,
)
from .errors import InvalidInput, InvalidSetting, PayloadTooLarge, ServiceUnavailable
from .explain import Explainer, ExplanationBudget, check_explanations_allowed, explanation_format
from .messages import BatchOutcome, Request, Response, error_response, guarded
from .model import BatchStats, TextClassifier
from .results import TextScores, format_result
from .segments import EncodedTexts
from .settings import Settings

log = logging.getLogger(__name__)

WARM_UP_TEXT = "The service is warming up."
T = TypeVar("T")


@dataclass(frozen=True)
class _Prepared:
    """A request that decoded and tokenized: what it asked for, how to answer, and its model rows."""

    parsed: ParsedRequest
    response_format: str
    encoded: EncodedTexts

    @property
    def protocol(self) -> Protocol:
        return self.parsed.protocol


class InferenceService:
    """Classifies batches of requests with one `TextClassifier`."""

    def __init__(self, classifier: TextClassifier, settings: Settings, model: ModelIdentity = UNNAMED_MODEL) -> None:
        self.classifier = classifier
        self.settings = settings
        self.model = model
        """The served model's name and version, for protocols that echo them (handed over once, at load)."""
        if settings.rerank_label and settings.rerank_label not in classifier.labels:
            raise InvalidSetting(f"rerank_label {settings.rerank_label!r} is not one of the model's labels")
        self.explainer = Explainer(classifier, settings)

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        settings: Settings,
        device="cpu",
        model: ModelIdentity = UNNAMED_MODEL,
        batch_size: int = 1,
    ) -> InferenceService:
        return cls(TextClassifier.load(model_dir, settings, device, batch_size), settings, model)

    def warm_up(self) -> None:
        """Run one prediction so the first client does not pay for lazy initialisation; raises on failure."""
        outcome = self.handle_batch([Request({"text": WARM_UP_TEXT}, "application/json")], log_batch=False)
        if outcome.responses[0].status != 200:
            raise RuntimeError(f"warm-up prediction failed: {outcome.responses[0].body[:500]!r}")

    def predict(self, parsed: ParsedRequest) -> list[dict]:
        """Result objects for one already decoded request (for front ends that decode and encode themselves).
        Raises the request's `ServingError` (a 413 over `max_tokens_per_request`) or the model's fault."""
        scores, _ = self.classifier.score([self._encode(_prediction(parsed))])
        return [self._result(text_scores, parsed) for text_scores in scores[0]]

    def explain(self, parsed: ParsedRequest) -> list[dict]:
        """Explanations for one already decoded request (the `predict` of explanations). Raises `Forbidden` (403)
        when this pool does not explain (`Settings.explanations`)."""
        self._check_explanations_allowed()
        return self.explainer.explain(parsed, ExplanationBudget(self.settings.max_explained_texts_per_batch))

    def handle(self, request: Request) -> Response:
        """Answer a single request."""
        return self.handle_batch([request]).responses[0]

    def handle_batch(self, requests: Sequence[Request], log_batch: bool = True) -> BatchOutcome:
        """Answer every request, each with its own answer or its own error: the predictions first, all
        classified together, then the explanations (`Request.explain`), one by one within the batch's budget.
        Work not started by `batch_deadline_seconds` answers 503."""
        deadline = time.monotonic() + self.settings.batch_deadline_seconds
        outcome = self._predict_batch([request for request in requests if not request.explain], deadline)
        asked = [request for request in requests if request.explain]
        if asked:
            started, budget = time.perf_counter(), ExplanationBudget(self.settings.max_explained_texts_per_batch)
            explained = iter([self._explain_in_time(request, budget, deadline) for request in asked])
            outcome.explain_seconds, outcome.explained_texts = time.perf_counter() - started, budget.used
            predicted = iter(outcome.responses)
            outcome.responses = [next(explained) if request.explain else next(predicted) for request in requests]
            outcome.errors = Counter(response.error_type for response in outcome.responses if response.error_type)
        if log_batch and self._logs(outcome):
            _log_batch(len(requests), outcome)
        return outcome

    def _logs(self, outcome: BatchOutcome) -> bool:
        """Whether the batch gets its log line (`Settings.batch_log`)."""
        return self.settings.batch_log == "all" or (self.settings.batch_log == "errors" and bool(outcome.errors))

    def _predict_batch(self, requests: Sequence[Request], deadline: float) -> BatchOutcome:
        """Each request is decoded and tokenized on its own, the texts of all that succeeded are classified
        together (sorted by length, in rounds: `_score`)."""
        prepared = [self._guarded(self._prepare, request, protocol=request.protocol) for request in requests]
        ready = [item for item in prepared if isinstance(item, _Prepared)]
        scores, stats = self._score(ready, deadline)
        answers = iter(scores)
        responses = [
            item if isinstance(item, Response) else self._answer_guarded(item, next(answers)) for item in prepared
        ]
        errors = Counter(response.error_type for response in responses if response.error_type)
        return BatchOutcome(responses, stats, errors, ranked=sum(response.ranked for response in responses))

    def _guarded(self, step: Callable[..., T], *args, protocol: Protocol | None) -> T | Response:
        """`guarded`, answering errors in `protocol`'s shape, naming this service's model where it asks."""
        return guarded(step, *args, protocol=protocol, model=self.model)

    def _prepare(self, request: Request) -> _Prepared | Response:
        """Decode, then (answering errors in the request's protocol from here on) negotiate and tokenize."""
        parsed = self._decode(request)
        return self._guarded(self._tokenize, parsed, request.accept, protocol=parsed.protocol)

    def _decode(self, request: Request) -> ParsedRequest:
        settings = self.settings
        return decode_request(
            request.body,
            request.content_type,
            settings.max_texts_per_request,
            settings.max_request_bytes,
            headers=request.headers,
            hint=request.protocol,
            rerank_label=settings.rerank_label,
        )

    def _tokenize(self, parsed: ParsedRequest, accept: str | None) -> _Prepared:
        _prediction(parsed)
        response_format = choose_response_format(accept, parsed.format, parsed.protocol.response_types)
        return _Prepared(parsed, response_format, self._encode(parsed))

    def _explain_in_time(self, request: Request, budget: ExplanationBudget, deadline: float) -> Response:
        """An explanation holds the worker for seconds: none starts after the batch's deadline, and none on a
        pool that does not explain (a 403 before the body is read)."""
        return self._guarded(self._explain, request, budget, deadline, protocol=request.protocol)

    def _explain(self, request: Request, budget: ExplanationBudget, deadline: float) -> Response:
        self._check_explanations_allowed()
        if time.monotonic() > deadline:
            return self._out_of_time(request)
        parsed = self._decode(request)
        return self._guarded(self._explained, parsed, request.accept, budget, protocol=parsed.protocol)

    def _check_explanations_allowed(self) -> None:
        check_explanations_allowed(self.settings.explanations, self.model.name)

    def _explained(self, parsed: ParsedRequest, accept: str | None, budget: ExplanationBudget) -> Response:
        """Explanations are answered in our own contract whatever protocol the body spoke (errors in its shape)."""
        response_format = explanation_format(accept, parsed.format)
        body, content_type = encode_results(self.explainer.explain(parsed, budget), parsed.single, response_format)
        return Response(200, body, content_type)

    def _encode(self, parsed: ParsedRequest) -> EncodedTexts:
        encoded = self.classifier.encode(parsed.texts, parsed.pairs)
        limit = self.settings.max_tokens_per_request
        if encoded.tokens > limit:
            raise PayloadTooLarge(
                f"the texts make {encoded.tokens} tokens of model input; the limit is {limit} (max_tokens_per_request)"
            )
        return encoded

    def _score(self, ready: list[_Prepared], deadline: float) -> tuple[list[list[TextScores] | Response], BatchStats]:
        """Scores per ready request, in rounds of at most `max_tokens_per_request` tokens, cheapest requests first
        (a batch of short requests is one round). A round not started by `deadline` answers its requests 503, so
        one batch of heavy requests cannot run past TorchServe's `responseTimeout` and fail all of them."""
        scores: list = [None] * len(ready)
        stats = BatchStats()
        rounds = plan_rounds([item.encoded.tokens for item in ready], self.settings.max_tokens_per_request)
        for number, members in enumerate(rounds):
            members = sorted(members)  # request order within a round
            items = [ready[i] for i in members]
            if number and time.monotonic() > deadline:
                outcome = [self._out_of_time(item) for item in items]
            else:
                outcome, round_stats = self._score_round(items)
                stats.add(round_stats)
            for index, answer in zip(members, outcome, strict=True):
                scores[index] = answer
        return scores, stats

    def _score_round(self, items: list[_Prepared]) -> tuple[list[list[TextScores] | Response], BatchStats]:
        """Scores of requests classified together. If that fails, each request is run alone, so a fault that one
        request causes is that request's 500 and the others still get their answers."""
        together = guarded(self.classifier.score, [item.encoded for item in items])
        if not isinstance(together, Response):
            return together
        log.warning("a round of %d requests failed; running each request alone", len(items))
        alone = [self._guarded(self.classifier.score, [item.encoded], protocol=item.protocol) for item in items]
        stats = BatchStats(texts=sum(len(item.parsed.texts) for item in items))
        return [outcome if isinstance(outcome, Response) else outcome[0][0] for outcome in alone], stats

    def _out_of_time(self, item: _Prepared | Request) -> Response:
        seconds = self.settings.batch_deadline_seconds
        error = ServiceUnavailable(
            f"the batch this request arrived in used its {seconds:g} s (batch_deadline_seconds) on other requests "
            "first; retry it"
        )
        return error_response(error, item.protocol, self.model)

    def _answer_guarded(self, item: _Prepared, scores: list[TextScores] | Response) -> Response:
        return self._guarded(self._answer, item, scores, protocol=item.protocol)

    def _answer(self, item: _Prepared, scores: list[TextScores] | Response) -> Response:
        if isinstance(scores, Response):
            return scores
        results = [self._result(text_scores, item.parsed) for text_scores in scores]
        answer = item.protocol.encode(results, item.parsed.single, item.response_format, self.model)
        return Response(200, answer.body, answer.content_type, headers=answer.headers, ranked=answer.ranked)

    def _result(self, text_scores: TextScores, parsed: ParsedRequest) -> dict:
        return format_result(
            text_scores,
            self.classifier.labels,
            top_k=parsed.parameters.top_k or self.settings.top_k,
            all_scores=parsed.parameters.return_all_scores,
            multi_label_threshold=self.settings.multi_label_threshold if self.classifier.multi_label else None,
        )


def _prediction(parsed: ParsedRequest) -> ParsedRequest:
    """`parsed`, unless it sets parameters that only explanations read (a client who sent them meant one)."""
    if parsed.parameters.for_explanations:
        names = ", ".join(parsed.parameters.for_explanations)
        raise InvalidInput(f"parameter(s) {names} apply to explanations (POST /explanations/<model>) only")
    return parsed


def _log_batch(requests: int, outcome: BatchOutcome) -> None:
    stats = outcome.stats
    log.info(
        "batch requests=%d texts=%d errors=%d micro_batches=%d tokens=%d padded_tokens=%d truncated=%d "
        "tokenize_ms=%.1f model_ms=%.1f explained_texts=%d explain_ms=%.1f",
        requests,
        stats.texts,
        sum(outcome.errors.values()),
        stats.micro_batches,
        stats.real_tokens,
        stats.padded_tokens,
        stats.truncated,
        stats.tokenize_seconds * 1000,
        stats.model_seconds * 1000,
        outcome.explained_texts,
        outcome.explain_seconds * 1000,
    )
