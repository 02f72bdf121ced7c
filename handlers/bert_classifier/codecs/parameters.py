"""A request's options (`"parameters"` in every JSON protocol): `top_k` and `return_all_scores`; for explanations
`target` and `steps`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput, quote_name
from .json_body import type_name

SUPPORTED = ("top_k", "return_all_scores")
EXPLANATION_PARAMETERS = ("target", "steps")


@dataclass(frozen=True)
class RequestParameters:
    """Per-request options; `None` means "use the handler's default"."""

    top_k: int | None = None
    return_all_scores: bool = False
    target: str | int | tuple[str | int | None, ...] | None = None
    """Explanations: the label to explain (name or id) for every text, or one per text (None: the predicted one)."""
    steps: int | None = None
    """Explanations: integration steps per text."""

    @property
    def for_explanations(self) -> tuple[str, ...]:
        """The names of the explanation-only parameters this request set."""
        return tuple(name for name in EXPLANATION_PARAMETERS if getattr(self, name) is not None)


def parameters_from(raw: object, also_supported: tuple[str, ...] = ()) -> RequestParameters:
    """Validate a `"parameters"` object; names in `also_supported` are a protocol's own (read by its codec)."""
    if raw is None:
        return RequestParameters()
    if not isinstance(raw, dict):
        raise InvalidInput(f"'parameters' must be a JSON object, got {type_name(raw)}")
    allowed = (*SUPPORTED, *EXPLANATION_PARAMETERS, *also_supported)
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
    return RequestParameters(top_k, all_scores, _target(raw.get("target")), _positive("steps", raw.get("steps")))


def _target(raw: Any) -> str | int | tuple[str | int | None, ...] | None:
    """A label (name or id) or a list of them, one per text (null: that text's predicted label). Whether the labels
    exist and the list's length are checked where the labels and texts are known."""
    if raw is None or _is_label(raw):
        return raw
    if isinstance(raw, list) and all(item is None or _is_label(item) for item in raw):
        return tuple(raw)
    raise InvalidInput("parameter 'target' must be a label name or id, or a list of them (null: the predicted label)")


def _is_label(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _positive(name: str, value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise InvalidInput(f"parameter {name!r} must be a positive integer")
    return value
