"""`Case`: one kind of bad (or odd) input, what the contract says it must get, and builders for its request."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .http import RawRequest

SOURCES = ("issue", "code", "contract", "adversarial")
"""Where a case comes from: the issue's table, reading the code, the request-contract tests, our own."""
SERVERS = ("shipped", "window")
"""Which server a case runs on: the shipped settings, or the same archive with `long_text: window`."""


@dataclass(frozen=True)
class Case:
    """A request sent at the same moment as good neighbours, and what must happen to it.

    Whatever `statuses` says, every case also requires: no neighbour harmed, no worker restarted, no echo of the
    request's text in the answer, and (with `cost_bound`) bounded worker CPU.
    """

    name: str
    source: str
    what: str
    """What the input is, in words (the report never prints bodies)."""
    request: RawRequest
    statuses: frozenset[int]
    """The acceptable statuses (more than one where the issue leaves the choice to the fix)."""
    typed: bool = True
    """A 4xx must carry the JSON error `{code, type, message}` with that code (False: TorchServe's empty 413)."""
    results: int | None = None
    """A 200 must hold this many results."""
    answer_type: str | None = None
    """A 200's media type, when the case is about choosing it."""
    error_type: str | None = None
    words: str | None = None
    """Words the error message must contain (the request-contract cases)."""
    closes_ok: bool = False
    """The frontend may close the connection while the body is still being sent (a refusal, not a failure)."""
    cost_bound: bool = True
    """Hold the case to the issue's bound on worker CPU (False for admissible heavy work, bounded by the caps)."""
    frontend_limit: bool = False
    """TorchServe's frontend answers this itself, before any handler, in a way no handler can change: a form post
    it cannot decode gets its 500 whose message repeats the form (docs/reliability.md). The status is
    held to that 500 and the echo is reported, not counted as a problem; neighbours and workers are still checked."""
    copies: int = 1
    """How many copies of the request are sent together (the rest of the batch is good neighbours)."""
    server: str = "shipped"

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"{self.name}: unknown source {self.source!r}")
        if self.server not in SERVERS:
            raise ValueError(f"{self.name}: unknown server {self.server!r}")
        if not self.statuses:
            raise ValueError(f"{self.name}: no acceptable status")

    @property
    def size(self) -> int:
        return len(self.request.raw_body if self.request.raw_body is not None else self.request.body)


def raw(
    name: str,
    source: str,
    what: str,
    body: bytes,
    content_type: str | None,
    statuses: int | tuple[int, ...],
    *extra_headers: tuple[str, str],
    **options,
) -> Case:
    """A case whose request is `body` with one Content-Type (None: no Content-Type header)."""
    headers = ((("Content-Type", content_type),) if content_type is not None else ()) + extra_headers
    request_options = {key: options.pop(key) for key in ("method", "path", "chunked", "raw_body") if key in options}
    request = RawRequest(body, headers, **request_options)
    wanted = frozenset((statuses,) if isinstance(statuses, int) else statuses)
    return Case(name, source, what, request, wanted, **options)


def as_json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()
