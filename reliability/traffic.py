"""Valid requests in every format the request contract lists (docs/request-contract.md), and how to read their answers.

They are the neighbours sent next to each bad input and the valid share of the soak. Every text carries the
privacy canary.
"""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

from .canary import with_canary
from .http import RawRequest, Reply

NEIGHBOUR_TEXT = "Shares fell after the profit warning."
"""The good neighbour of the issue's table."""
TEXTS = (
    "Shares fell after the profit warning.",
    "The striker scored twice as the champions won 3-1.",
    "A new smartphone chip promises longer battery life.",
    "Parliament voted on the bill late on Tuesday.",
    "Ticket sales for the film broke box office records.",
)
SCORE_TOLERANCE = 1e-2
"""A neighbour's answer is "the same" when its labels are equal and its scores within this. The same text's scores
depend a little on the batch it was in: bf16 packed matmuls of another shape move the last bits, and ONNX Runtime's
dynamic int8 quantizes each batch's activations with one scale for the whole batch (docs/engines.md). Labels
must match exactly."""


def long_text(tokens: int = 1500) -> str:
    """About `tokens` tokens of news-like English (each sentence of TEXTS is ~10 tokens), with the canary."""
    sentences = [TEXTS[i % len(TEXTS)] for i in range(tokens // 10)]
    return with_canary(" ".join(sentences))


@dataclass(frozen=True)
class Good:
    """A valid request and how many results its answer must hold."""

    name: str
    request: RawRequest
    results: int


def plain_json(text: str) -> RawRequest:
    """`{"text": ...}` as application/json."""
    return RawRequest(json.dumps({"text": text}).encode(), (("Content-Type", "application/json"),))


def plain_json_list(texts: list[str]) -> RawRequest:
    """`{"data": [...]}` as application/json."""
    return RawRequest(json.dumps({"data": texts}).encode(), (("Content-Type", "application/json"),))


def _json(document) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _ctype(value: str, *more: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", value), *more)


def good_requests() -> tuple[Good, ...]:
    """One valid request per format and shape of the request contract (docs/request-contract.md)."""
    t = [with_canary(text) for text in TEXTS]
    csv_rows = io.StringIO()
    csv.writer(csv_rows, lineterminator="\n").writerows([["id", "text"], [1, t[1]], [2, t[2] + ", with a comma"]])
    return (
        Good("json-data-list", RawRequest(_json({"data": [t[0]]}), _ctype("application/json")), 1),
        Good("json-data-string", RawRequest(_json({"data": t[1]}), _ctype("application/json")), 1),
        Good("json-text", RawRequest(_json({"text": t[2]}), _ctype("application/json")), 1),
        Good(
            "json-inputs-top-k",
            RawRequest(_json({"inputs": [t[3], t[4]], "parameters": {"top_k": 2}}), _ctype("application/json")),
            2,
        ),
        Good("json-bare-string", RawRequest(_json(t[4]), _ctype("application/json")), 1),
        Good("json-bare-list", RawRequest(_json([t[0], t[1]]), _ctype("application/json")), 2),
        Good("text-plain", RawRequest(t[2].encode(), _ctype("text/plain")), 1),
        Good("jsonlines", RawRequest(f'"{t[3]}"\n{{"text": "{t[4]}"}}\n'.encode(), _ctype("application/jsonlines")), 2),
        Good("csv-header", RawRequest(csv_rows.getvalue().encode(), _ctype("text/csv")), 2),
        Good("csv-plain", RawRequest(f"{t[0]}\n{t[3]}\n".encode(), _ctype("text/csv")), 2),
        Good("octet-stream-json", RawRequest(_json({"text": t[1]}), _ctype("application/octet-stream")), 1),
        Good("no-content-type-text", RawRequest(t[3].encode()), 1),
        Good(
            "form-text",
            RawRequest(b"text=" + t[4].replace(" ", "+").encode(), _ctype("application/x-www-form-urlencoded")),
            1,
        ),
        Good(
            "json-accept-csv",
            RawRequest(_json({"data": [t[0], t[2]]}), _ctype("application/json", ("Accept", "text/csv"))),
            2,
        ),
        Good(
            "csv-accept-jsonlines",
            RawRequest(f"{t[1]}\n{t[4]}\n".encode(), _ctype("text/csv", ("Accept", "application/jsonlines"))),
            2,
        ),
    )


NEIGHBOURS = (
    "json-data-list",
    "json-data-list",
    "json-data-list",
    "text-plain",
    "jsonlines",
    "csv-header",
    "form-text",
)
"""The good requests sent next to each bad one: the issue's neighbour three times, and other formats."""


def neighbours(count: int) -> list[Good]:
    """`count` good neighbours, cycling through `NEIGHBOURS`."""
    by_name = {good.name: good for good in good_requests()}
    return [by_name[NEIGHBOURS[i % len(NEIGHBOURS)]] for i in range(max(count, 0))]


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def parse_results(reply: Reply) -> list[tuple[str, float]] | None:
    """(label, score) per text of a 200 answer in JSON, JSON lines or CSV; None if it is none of those."""
    kind = media_type(reply.content_type)
    try:
        text = reply.body.decode("utf-8")
        if kind == "application/json":
            document = json.loads(text)
            items = document if isinstance(document, list) else [document]
            return [(item["label"], float(item["score"])) for item in items]
        if kind == "application/jsonlines":
            return [(item["label"], float(item["score"])) for item in map(json.loads, text.splitlines())]
        if kind == "text/csv":
            return [(row[0], float(row[2])) for row in csv.reader(io.StringIO(text)) if row]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return None


def body_kind(reply: Reply) -> str:
    """What an answer's body is: `error` (a JSON {code, type, message}), `results`, `empty`, `json`, `other`."""
    if reply.status == 0:
        return "none"
    if not reply.body:
        return "empty"
    if error_fields(reply):
        return "error"
    if parse_results(reply) is not None:
        return "results"
    try:
        json.loads(reply.body)
        return "json"
    except ValueError:
        return "other"


def error_fields(reply: Reply) -> dict | None:
    """The JSON error body `{"code", "type", "message"}` of a non-200 answer, if that is what it is."""
    try:
        document = json.loads(reply.body)
    except ValueError:
        return None
    if isinstance(document, dict) and {"code", "type", "message"} <= set(document):
        return document
    return None


def same_answer(alone: list[tuple[str, float]] | None, batched: list[tuple[str, float]] | None) -> bool:
    """Equal labels in the same order and scores within `SCORE_TOLERANCE`."""
    if alone is None or batched is None or len(alone) != len(batched):
        return False
    return all(
        a_label == b_label and math.isclose(a_score, b_score, abs_tol=SCORE_TOLERANCE)
        for (a_label, a_score), (b_label, b_score) in zip(alone, batched, strict=True)
    )
