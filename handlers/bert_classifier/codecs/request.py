"""Decode one request body into the texts to classify, the request's parameters and the protocol it speaks.

The protocol is decided per request: by Content-Type, then by the JSON body's shape (`{"instances": ...}` is
KServe v1, `{"inputs": [{tensor}, ...]}` is the Open Inference Protocol, `{"query": ...}` a rerank request,
anything else our own contract). Every format may carry text pairs (`codecs.pairs`).
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, UnsupportedMediaType, quote_name
from . import csv_body, json_body, jsonlines_body, kserve_v1, negotiation, open_inference, rerank, text_body
from .limits import check_pairs, check_size, check_texts
from .pairs import Item, split_items
from .parameters import RequestParameters, parameters_from
from .protocol import NATIVE, Protocol, answering_errors_as


@dataclass(frozen=True)
class ParsedRequest:
    """What a request asks for: its texts, whether it sent one text (not a list), its options, and the protocol
    that answers it."""

    texts: tuple[str, ...]
    single: bool
    format: str
    parameters: RequestParameters = field(default_factory=RequestParameters)
    protocol: Protocol = NATIVE
    pairs: tuple[str | None, ...] = ()
    """Each text's second text (a text pair), None for a single text; empty when the request sent no pair."""

    @classmethod
    def of(cls, items: tuple[Item, ...], single: bool, fmt: str, **options) -> ParsedRequest:
        """From decoded items (texts and text pairs)."""
        texts, pairs = split_items(items)
        return cls(texts, single, fmt, pairs=pairs, **options)

    @property
    def all_texts(self) -> tuple[str, ...]:
        """Every text sent, second texts of pairs included (for size limits)."""
        return self.texts + tuple(pair for pair in self.pairs if pair is not None)


def decode_request(
    body: Any,
    content_type: str | None,
    max_texts: int,
    max_bytes: int | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    hint: Protocol | None = None,
    rerank_label: str | None = None,
) -> ParsedRequest:
    """Decode a body by its Content-Type; raise `InvalidInput`, `UnsupportedMediaType` or `PayloadTooLarge`.

    `body` may be bytes, a str, or JSON the model server already parsed (dict or list); for parsed JSON the
    size checked against `max_bytes` is that of its texts. `headers` (lower-case names) may carry the binary
    tensor extension's JSON length; `hint` is the protocol a front end already knows the body speaks;
    `rerank_label` the label whose score ranks documents (the `rerank_label` setting).
    Once the body's protocol is known, the errors raised carry it (`ServingError.protocol`).
    """
    if isinstance(body, (bytes, bytearray, str)):
        check_size(len(body) if not isinstance(body, str) else len(body.encode("utf-8", "replace")), max_bytes)
        if not body.strip():
            raise InvalidInput("the request body is empty")
    binary = None
    if isinstance(body, (bytes, bytearray)):
        body, binary = open_inference.split_binary(bytes(body), headers or {})
    fmt = negotiation.JSON if binary is not None or hint is not None else _format(body, content_type)
    if fmt == negotiation.JSON:
        return _decode_json(body, negotiation.charset(content_type), max_texts, max_bytes, binary, hint, rerank_label)
    parsed = _DECODERS[fmt](body, negotiation.charset(content_type), max_texts)
    check_texts(parsed.texts, max_texts)
    check_pairs(parsed.pairs)
    return parsed


def _format(body: Any, content_type: str | None) -> str:
    kind = negotiation.media_type(content_type)
    if kind in negotiation.SNIFFED_TYPES:
        kind = _sniff(body)
    fmt = negotiation.REQUEST_TYPES.get(kind)
    if fmt is None:
        supported = ", ".join(sorted(negotiation.REQUEST_TYPES))
        raise UnsupportedMediaType(f"Content-Type {quote_name(kind)} is not supported; use one of: {supported}")
    return fmt


def _decode_json(
    body: Any,
    encoding: str,
    max_texts: int,
    max_bytes: int | None,
    binary: bytes | None,
    hint: Protocol | None,
    rerank_label: str | None,
) -> ParsedRequest:
    document = body if isinstance(body, (dict, list)) else json_body.parse_json(text_body.to_str(body, encoding))
    bridge = isinstance(hint, open_inference.TorchServeGrpcBridge)
    if bridge or binary is not None or open_inference.recognises(document):
        protocol = open_inference.error_protocol(document, bridge)
    elif kserve_v1.recognises(document):
        protocol = kserve_v1.KSERVE_V1
    else:
        protocol = NATIVE
    with answering_errors_as(protocol):
        if protocol is NATIVE and rerank.recognises(document):
            queries, documents, parameters, answer = rerank.decode(document, max_texts, rerank_label)
            parsed = ParsedRequest(queries, False, negotiation.JSON, parameters, answer, documents)
        elif protocol is NATIVE:
            items, single, raw = json_body.texts_from_document(document)
            parsed = ParsedRequest.of(items, single, negotiation.JSON, parameters=parameters_from(raw))
        elif protocol is kserve_v1.KSERVE_V1:
            items, raw = kserve_v1.decode(document, max_texts)
            parsed = ParsedRequest.of(
                items, False, negotiation.JSON, parameters=parameters_from(raw), protocol=protocol
            )
        else:
            items, parameters, answer = open_inference.decode(_object(document), max_texts, binary, bridge)
            parsed = ParsedRequest.of(items, False, negotiation.JSON, parameters=parameters, protocol=answer)
        check_texts(parsed.texts, max_texts)
        check_pairs(parsed.pairs)
        if isinstance(body, (dict, list)):
            check_size(sum(len(text.encode("utf-8", "replace")) for text in parsed.all_texts), max_bytes)
    return parsed


def _object(document: Any) -> dict:
    if not isinstance(document, dict) or not isinstance(document.get("inputs"), list):
        raise InvalidInput("an inference request is a JSON object with an 'inputs' list of tensors")
    return document


def _decode_jsonlines(body: Any, encoding: str, max_texts: int) -> ParsedRequest:
    return ParsedRequest.of(jsonlines_body.decode(body, encoding, max_texts), False, negotiation.JSON_LINES)


def _decode_csv(body: Any, encoding: str, max_texts: int) -> ParsedRequest:
    return ParsedRequest.of(csv_body.decode(body, encoding, max_texts), False, negotiation.CSV)


def _decode_text(body: Any, encoding: str, _max_texts: int) -> ParsedRequest:
    return ParsedRequest((text_body.decode(body, encoding),), True, negotiation.JSON)


_DECODERS = {
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
