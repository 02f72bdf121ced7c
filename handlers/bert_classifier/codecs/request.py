"""Decode one request body into the texts to classify and the request's parameters."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, UnsupportedMediaType, quote_name
from . import csv_body, json_body, jsonlines_body, negotiation, text_body
from .limits import check_size, check_texts


@dataclass(frozen=True)
class RequestParameters:
    """Per-request options; `None` means "use the handler's default"."""

    top_k: int | None = None
    return_all_scores: bool = False


@dataclass(frozen=True)
class ParsedRequest:
    """What a request asks for: its texts, whether it sent one text (not a list), and its options."""

    texts: tuple[str, ...]
    single: bool
    format: str
    parameters: RequestParameters = field(default_factory=RequestParameters)


def decode_request(body: Any, content_type: str | None, max_texts: int, max_bytes: int | None = None) -> ParsedRequest:
    """Decode a body by its Content-Type; raise `InvalidInput`, `UnsupportedMediaType` or `PayloadTooLarge`.

    `body` may be bytes, a str, or JSON the model server already parsed (dict or list); for parsed JSON the
    size checked against `max_bytes` is that of its texts.
    """
    if isinstance(body, (bytes, bytearray, str)):
        check_size(len(body) if not isinstance(body, str) else len(body.encode("utf-8", "replace")), max_bytes)
        if not body.strip():
            raise InvalidInput("the request body is empty")
    kind = negotiation.media_type(content_type)
    if kind in negotiation.SNIFFED_TYPES:
        kind = _sniff(body)
    fmt = negotiation.REQUEST_TYPES.get(kind)
    if fmt is None:
        supported = ", ".join(sorted(negotiation.REQUEST_TYPES))
        raise UnsupportedMediaType(f"Content-Type {quote_name(kind)} is not supported; use one of: {supported}")
    parsed = _DECODERS[fmt](body, negotiation.charset(content_type), max_texts)
    check_texts(parsed.texts, max_texts)
    if isinstance(body, (dict, list)):
        check_size(sum(len(text.encode("utf-8", "replace")) for text in parsed.texts), max_bytes)
    return parsed


def _decode_json(body: Any, encoding: str, _max_texts: int) -> ParsedRequest:
    texts, single, parameters = json_body.decode(body, encoding)
    return ParsedRequest(texts, single, negotiation.JSON, _parameters(parameters))


def _decode_jsonlines(body: Any, encoding: str, max_texts: int) -> ParsedRequest:
    return ParsedRequest(jsonlines_body.decode(body, encoding, max_texts), False, negotiation.JSON_LINES)


def _decode_csv(body: Any, encoding: str, max_texts: int) -> ParsedRequest:
    return ParsedRequest(csv_body.decode(body, encoding, max_texts), False, negotiation.CSV)


def _decode_text(body: Any, encoding: str, _max_texts: int) -> ParsedRequest:
    return ParsedRequest((text_body.decode(body, encoding),), True, negotiation.JSON)


_DECODERS = {
    negotiation.JSON: _decode_json,
    negotiation.JSON_LINES: _decode_jsonlines,
    negotiation.CSV: _decode_csv,
    negotiation.TEXT: _decode_text,
}


def _sniff(body: Any) -> str:
    """JSON if the body is (or starts like) JSON, plain text otherwise."""
    if isinstance(body, (dict, list)):
        return negotiation.JSON
    head = body[:64] if isinstance(body, (bytes, bytearray, memoryview, str)) else b""
    if isinstance(head, str):
        head = head.encode("utf-8", "replace")
    head = bytes(head).removeprefix(codecs.BOM_UTF8).lstrip()  # to_str drops the BOM before parsing too
    return negotiation.JSON if head[:1] in (b"{", b"[", b'"') else negotiation.TEXT


def _parameters(raw: dict | None) -> RequestParameters:
    if raw is None:
        return RequestParameters()
    if not isinstance(raw, dict):
        raise InvalidInput(f"'parameters' must be a JSON object, got {json_body.type_name(raw)}")
    unknown = sorted(set(raw) - {"top_k", "return_all_scores"})
    if unknown:
        names = ", ".join(quote_name(name) for name in unknown[:5])
        raise InvalidInput(f"unknown parameter(s): {names}; supported: top_k, return_all_scores")
    top_k = raw.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise InvalidInput("parameter 'top_k' must be a positive integer")
    all_scores = raw.get("return_all_scores", False)
    if not isinstance(all_scores, bool):
        raise InvalidInput("parameter 'return_all_scores' must be true or false")
    return RequestParameters(top_k=top_k, return_all_scores=all_scores)
