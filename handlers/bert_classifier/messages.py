"""What front ends hand the service and get back (`Request`, `Response`, `BatchOutcome`), and the one place an
exception becomes a response (`error_response`, applied around each request by `guarded`)."""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, TypeVar

from .codecs import NATIVE, UNNAMED_MODEL, ModelIdentity, Protocol
from .errors import InternalError, ServingError
from .model import BatchStats

log = logging.getLogger(__name__)

PROCESS_EXITS = (KeyboardInterrupt, SystemExit, GeneratorExit)
T = TypeVar("T")


@dataclass(frozen=True)
class Request:
    """One client request as any front end sees it: the body and two headers."""

    body: Any
    content_type: str | None = None
    accept: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    """All headers by lower-case name, for codecs that read more than the two above."""
    protocol: Protocol | None = None
    """The protocol the front end already knows the body speaks (None: decided from the body)."""
    explain: bool = False
    """Whether the request asks for an explanation (which words made the label) rather than a prediction."""


@dataclass(frozen=True)
class Response:
    """One answer: HTTP status, encoded body and its Content-Type."""

    status: int
    body: bytes
    content_type: str = "application/json"
    error_type: str | None = None
    """The error class name for a non-200 response (for metrics); never sent to the client."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Response headers besides Content-Type that the request's protocol needs."""
    ranked: int = 0
    """Documents this answer ranked (reranking), for metrics."""

    @property
    def phrase(self) -> str:
        return HTTPStatus(self.status).phrase


@dataclass
class BatchOutcome:
    """The responses of a batch (same order as its requests) and what it took, for logs and metrics."""

    responses: list[Response]
    stats: BatchStats
    errors: Counter = field(default_factory=Counter)
    explained_texts: int = 0
    explain_seconds: float = 0.0
    ranked: int = 0
    """Documents ranked by rerank requests."""


def error_response(
    error: BaseException, protocol: Protocol | None = None, model: ModelIdentity = UNNAMED_MODEL
) -> Response:
    """The one translation from an exception to a response: our errors keep their status, anything else is 500.

    The body is the error body of the request's protocol: the one the codecs recognised before the error
    (`error.protocol`), else `protocol` (what the caller knows of the request), else our own. It is ASCII
    JSON, so encoding an error can never fail.
    """
    protocol = getattr(error, "protocol", None) or protocol or NATIVE
    if not isinstance(error, ServingError):
        error = InternalError("internal server error; the server log has the details")
    return Response(error.status, protocol.error_body(error, model), error_type=type(error).__name__)


def guarded(
    step: Callable[..., T], *args, protocol: Protocol | None = None, model: ModelIdentity = UNNAMED_MODEL
) -> T | Response:
    """`step(*args)`, or the error response for whatever it raised: the outermost guard around one request.

    Catches `BaseException` except the ones that stop the process, because a Rust tokenizer's panic arrives as
    pyo3's `PanicException`, which is not an `Exception`. A fault is logged with its type and stack frames only:
    an exception's message may quote the input.
    """
    try:
        return step(*args)
    except PROCESS_EXITS:
        raise
    except ServingError as error:
        return error_response(error, protocol, model)
    except BaseException as error:  # noqa: BLE001 - see the docstring
        log_fault(error, getattr(step, "__name__", step))
        return error_response(error, protocol, model)


def log_fault(error: BaseException, where: object) -> None:
    """Log an unexpected exception by its type and stack frames only, never its message, which may quote the
    input (a tokenizer's or a codec's message often does). Every front end logs its faults through this."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("unexpected %s in %s:\n%s", type(error).__name__, where, frames)
