"""The protocol a request speaks decides the shape of its answer: its result body and its error body.

A request's protocol is decided per request, from its body (`request.decode_request`), and travels with it in
`ParsedRequest.protocol`. `NATIVE` is our own contract (`/predictions`); `kserve_v1` and `open_inference` add
theirs. The service never branches on a protocol: it asks the request's protocol to encode results and errors.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..errors import ServingError
from .negotiation import JSON, RESPONSE_TYPES
from .response import encode_results


@dataclass(frozen=True)
class ModelIdentity:
    """The served model's name and version, which some protocols echo in every answer. A front end hands them
    to the service once, at load (TorchServe: from the archive's manifest)."""

    name: str = "model"
    version: str = ""


UNNAMED_MODEL = ModelIdentity()
"""For front ends that do not name their model."""


@dataclass(frozen=True)
class Answer:
    """An encoded answer: body, Content-Type and any other response headers the protocol needs."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)
    ranked: int = 0
    """Documents the answer ranked (reranking), for metrics."""


class Protocol:
    """How one request is answered. Subclasses are frozen dataclasses holding what their answer needs from the
    request (an id to echo, the outputs asked for)."""

    name = "torchserve"
    response_types: tuple[str, ...] = RESPONSE_TYPES
    """The media types `Accept` may pick from; the first is the answer's type when anything goes."""

    def encode(self, results: list[dict], single: bool, response_format: str, model: ModelIdentity) -> Answer:
        body, content_type = encode_results(results, single, response_format)
        return Answer(body, content_type)

    def error_body(self, error: ServingError, model: ModelIdentity) -> bytes:
        """The error's JSON body. ASCII (`json.dumps` escapes everything else), so it can never fail to encode."""
        return ascii_json(error.as_dict())


NATIVE = Protocol()
"""Our own contract (docs/request-contract.md): `{"code", "type", "message"}` errors."""


class JsonErrorProtocol(Protocol):
    """KServe's and the Open Inference Protocol's error body: `{"error": "<message>"}`; answers are JSON only."""

    response_types = (JSON,)

    def error_body(self, error: ServingError, model: ModelIdentity) -> bytes:
        return ascii_json({"error": error.message})


def ascii_json(document: object) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode("ascii")


@contextmanager
def answering_errors_as(protocol: Protocol) -> Iterator[None]:
    """A `ServingError` raised inside carries `protocol` (unless it already names one), so that
    `messages.error_response` gives it that protocol's error body: how a request whose decoding failed half-way is
    still answered in the protocol its body was recognised as."""
    try:
        yield
    except ServingError as error:
        if error.protocol is None:
            error.protocol = protocol
        raise
