"""Encode results for the negotiated response type; the response mirrors the request's shape."""

from __future__ import annotations

import csv
import io
import json

from .negotiation import CSV, JSON, JSON_LINES


def encode_results(results: list[dict], single: bool, response_format: str) -> tuple[bytes, str]:
    """The body and its Content-Type (`response_format` is the negotiated media type). JSON: one object for a
    single text, else a list in request order. JSON lines and CSV: one line per text."""
    if response_format == JSON_LINES:
        return "".join(_json(result) + "\n" for result in results).encode("utf-8"), JSON_LINES
    if response_format == CSV:
        return _csv(results).encode("utf-8"), CSV
    if response_format == JSON:
        return _json(results[0] if single else results).encode("utf-8"), JSON
    raise ValueError(f"unknown response format {response_format!r}")


def encode_json(document: object) -> bytes:
    """Compact UTF-8 JSON with non-ASCII text left unescaped."""
    return _json(document).encode("utf-8")


def _json(document: object) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def _csv(results: list[dict]) -> str:
    """`label,label_id,score` per text, no header: Batch Transform joins output lines to input lines 1:1."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for result in results:
        writer.writerow([result["label"], result["label_id"], result["score"]])
    return buffer.getvalue()
