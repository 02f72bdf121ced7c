"""`InferenceService`: decode -> classify -> encode for a batch of requests, one response per request.

This is the only place errors become responses (`error_response`). A client's mistake affects only its own
request; the rest of the batch is still classified.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from .codecs import ParsedRequest, choose_response_format, decode_request, encode_results
from .codecs.negotiation import CSV, JSON, JSON_LINES
from .codecs.response import encode_json
from .errors import InternalError, ServingError
from .model import BatchStats, TextClassifier
from .results import format_result
from .settings import Settings

log = logging.getLogger(__name__)

CONTENT_TYPES = {JSON: "application/json", JSON_LINES: "application/jsonlines", CSV: "text/csv"}
WARM_UP_TEXT = "The service is warming up."


@dataclass(frozen=True)
class Request:
    """One client request as any front end sees it: the body and two headers."""

    body: Any
    content_type: str | None = None
    accept: str | None = None


@dataclass(frozen=True)
class Response:
    """One answer: HTTP status, encoded body and its Content-Type."""

    status: int
    body: bytes
    content_type: str = "application/json"
    error_type: str | None = None
    """The error class name for a non-200 response (for metrics); never sent to the client."""

    @property
    def phrase(self) -> str:
        return HTTPStatus(self.status).phrase


@dataclass
class BatchOutcome:
    """The responses of a batch (same order as its requests) and what it took, for logs and metrics."""

    responses: list[Response]
    stats: BatchStats
    errors: Counter = field(default_factory=Counter)


def error_response(error: Exception) -> Response:
    """The one translation from an exception to a response: our errors keep their status, anything else is 500."""
    if not isinstance(error, ServingError):
        error = InternalError("internal server error; the server log has the details")
    return Response(error.status, encode_json(error.as_dict()), error_type=type(error).__name__)


class InferenceService:
    """Classifies batches of requests with one `TextClassifier`."""

    def __init__(self, classifier: TextClassifier, settings: Settings) -> None:
        self.classifier = classifier
        self.settings = settings

    @classmethod
    def load(cls, model_dir: str | Path, settings: Settings, device="cpu") -> InferenceService:
        return cls(TextClassifier.load(model_dir, settings, device), settings)

    def warm_up(self) -> None:
        """Run one prediction so the first client does not pay for lazy initialisation; raises on failure."""
        outcome = self.handle_batch([Request({"text": WARM_UP_TEXT}, "application/json")], log_batch=False)
        if outcome.responses[0].status != 200:
            raise RuntimeError(f"warm-up prediction failed: {outcome.responses[0].body[:500]!r}")

    def predict(self, parsed: ParsedRequest) -> list[dict]:
        """Result objects for one already decoded request (for front ends that decode and encode themselves)."""
        scores, _ = self.classifier.classify(parsed.texts)
        return [self._result(text_scores, parsed) for text_scores in scores]

    def handle(self, request: Request) -> Response:
        """Answer a single request."""
        return self.handle_batch([request]).responses[0]

    def handle_batch(self, requests: Sequence[Request], log_batch: bool = True) -> BatchOutcome:
        """Answer every request; texts of all valid requests are classified together, sorted by length."""
        decoded: list[tuple[ParsedRequest, str] | Response] = [self._decode(request) for request in requests]
        valid = [item for item in decoded if not isinstance(item, Response)]
        texts = [text for parsed, _ in valid for text in parsed.texts]
        try:
            scores, stats = self.classifier.classify(texts) if texts else ([], BatchStats())
        except Exception:
            log.exception("inference failed for a batch of %d requests, %d texts", len(valid), len(texts))
            failed = error_response(InternalError("inference failed"))
            decoded = [item if isinstance(item, Response) else failed for item in decoded]
            scores, stats = [], BatchStats(texts=len(texts))
        responses = self._encode_all(decoded, scores)
        errors = Counter(response.error_type for response in responses if response.error_type)
        outcome = BatchOutcome(responses, stats, errors)
        if log_batch:
            _log_batch(len(requests), outcome)
        return outcome

    def _decode(self, request: Request) -> tuple[ParsedRequest, str] | Response:
        try:
            parsed = decode_request(
                request.body,
                request.content_type,
                self.settings.max_texts_per_request,
                self.settings.max_request_bytes,
            )
            return parsed, choose_response_format(request.accept, parsed.format)
        except ServingError as error:
            return error_response(error)
        except Exception as error:  # noqa: BLE001 - a decoder bug must fail only this request, never its batch
            frames = "".join(traceback.format_tb(error.__traceback__))  # no message: it could quote the input
            log.error("unexpected %s while decoding a request:\n%s", type(error).__name__, frames)
            return error_response(error)

    def _encode_all(self, decoded: list, scores: list) -> list[Response]:
        responses, position = [], 0
        for item in decoded:
            if isinstance(item, Response):
                responses.append(item)
                continue
            parsed, response_format = item
            own = scores[position : position + len(parsed.texts)]
            position += len(parsed.texts)
            results = [self._result(text_scores, parsed) for text_scores in own]
            body = encode_results(results, parsed.single, response_format)
            responses.append(Response(200, body, CONTENT_TYPES[response_format]))
        return responses

    def _result(self, text_scores, parsed: ParsedRequest) -> dict:
        return format_result(
            text_scores,
            self.classifier.labels,
            top_k=parsed.parameters.top_k or self.settings.top_k,
            all_scores=parsed.parameters.return_all_scores,
            multi_label_threshold=self.settings.multi_label_threshold if self.classifier.multi_label else None,
        )


def _log_batch(requests: int, outcome: BatchOutcome) -> None:
    stats = outcome.stats
    log.info(
        "batch requests=%d texts=%d errors=%d micro_batches=%d tokens=%d padded_tokens=%d truncated=%d "
        "tokenize_ms=%.1f model_ms=%.1f",
        requests,
        stats.texts,
        sum(outcome.errors.values()),
        stats.micro_batches,
        stats.real_tokens,
        stats.padded_tokens,
        stats.truncated,
        stats.tokenize_seconds * 1000,
        stats.model_seconds * 1000,
    )
