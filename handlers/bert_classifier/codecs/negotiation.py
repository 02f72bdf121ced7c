"""Content-Type and Accept handling: which decoder reads a body, which encoder writes the answer."""

from __future__ import annotations

from ..errors import NotAcceptable, quote_name

JSON = "application/json"
JSON_LINES = "application/jsonlines"
CSV = "text/csv"
TEXT = "text/plain"

# Aliases clients and SageMaker Batch Transform use for the same formats.
REQUEST_TYPES = {
    "application/json": JSON,
    "text/json": JSON,
    "application/jsonlines": JSON_LINES,
    "application/jsonl": JSON_LINES,
    "application/x-jsonlines": JSON_LINES,
    "application/x-ndjson": JSON_LINES,
    "application/ndjson": JSON_LINES,
    "text/csv": CSV,
    "text/plain": TEXT,
}
# No Content-Type, or a generic one (curl -T, some SDKs): the body says what it is.
SNIFFED_TYPES = ("", "application/octet-stream", "application/x-www-form-urlencoded")
RESPONSE_TYPES = (JSON, JSON_LINES, CSV)
"""What we answer in; a request's format is its media type, so a JSON request is answered in JSON by default."""
RESPONSE_ALIASES = {alias: canonical for alias, canonical in REQUEST_TYPES.items() if canonical in RESPONSE_TYPES}


def media_type(header: str | None) -> str:
    """The bare, lower-case media type of a Content-Type header (`text/csv; charset=utf-8` -> `text/csv`)."""
    return (header or "").split(";", 1)[0].strip().lower()


def charset(header: str | None) -> str:
    """The `charset` parameter of a Content-Type header, `utf-8` when absent."""
    for part in (header or "").split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"').lower()
    return "utf-8"


def choose_response_format(accept: str | None, request_format: str, offered: tuple[str, ...] = RESPONSE_TYPES) -> str:
    """Pick the response media type from an Accept header among `offered` (the request's protocol's types); the
    request's own format when anything goes, else the first offered.

    Raises `NotAcceptable` when no listed type (ignoring q=0) is one we produce.
    """
    default = request_format if request_format in offered else offered[0]
    if not accept or not accept.strip():
        return default
    accepted, refused = _accepted_in_preference_order(accept)
    for candidate in accepted:
        if candidate.endswith("/*"):  # */*, application/*, text/*: our preference among what it matches
            prefix = "" if candidate == "*/*" else candidate[:-1]
            for option in (default, *offered):
                if option.startswith(prefix) and option not in refused:
                    return option
        elif RESPONSE_ALIASES.get(candidate) in offered:
            return RESPONSE_ALIASES[candidate]
    raise NotAcceptable(f"cannot produce any of Accept: {quote_name(accept)}; available: {', '.join(offered)}")


def _accepted_in_preference_order(accept: str) -> tuple[list[str], set[str]]:
    """The listed types best first (q > 0), and the types explicitly refused with q=0."""
    ranked, refused = [], set()
    for position, item in enumerate(accept.split(",")):
        kind, *params = (piece.strip() for piece in item.split(";"))
        kind = kind.lower()
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if kind and quality > 0:
            ranked.append((-quality, position, kind))
        elif kind and quality == 0:
            refused.add(RESPONSE_ALIASES.get(kind, kind))
    return [kind for _, _, kind in sorted(ranked)], refused
