"""A request's options (`"parameters"` in every JSON protocol): `top_k` and `return_all_scores`."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidInput, quote_name
from .json_body import type_name

SUPPORTED = ("top_k", "return_all_scores")


@dataclass(frozen=True)
class RequestParameters:
    """Per-request options; `None` means "use the handler's default"."""

    top_k: int | None = None
    return_all_scores: bool = False


def parameters_from(raw: object, also_supported: tuple[str, ...] = ()) -> RequestParameters:
    """Validate a `"parameters"` object; names in `also_supported` are a protocol's own (read by its codec)."""
    if raw is None:
        return RequestParameters()
    if not isinstance(raw, dict):
        raise InvalidInput(f"'parameters' must be a JSON object, got {type_name(raw)}")
    allowed = (*SUPPORTED, *also_supported)
    unknown = sorted(set(raw) - set(allowed))
    if unknown:
        names = ", ".join(quote_name(name) for name in unknown[:5])
        raise InvalidInput(f"unknown parameter(s): {names}; supported: {', '.join(allowed)}")
    top_k = raw.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InvalidInput("parameter 'top_k' must be a positive integer")
    all_scores = raw.get("return_all_scores", False)
    if not isinstance(all_scores, bool):
        raise InvalidInput("parameter 'return_all_scores' must be true or false")
    return RequestParameters(top_k=top_k, return_all_scores=all_scores)
