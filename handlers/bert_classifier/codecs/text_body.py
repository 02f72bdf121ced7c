"""`text/plain`: the whole body is one text. Also the shared bytes-to-str step for every format."""

from __future__ import annotations

import codecs
from typing import Any

from ..errors import InvalidInput, UnsupportedMediaType, quote_name

SUPPORTED_CHARSETS = (
    "utf-8",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "utf-32",
    "utf-32-le",
    "utf-32-be",
    "ascii",
    "iso8859-1",
    "cp1252",
)
"""Python's names for the charsets we decode (any alias Python knows, e.g. `latin-1` or `windows-1252`, works):
Unicode and the Western single-byte sets, each decoded in linear time. Everything else is a 415: Python's other
codecs include ones that are quadratic (punycode) or not character encodings at all (rot13, idna)."""


def decode(body: Any, encoding: str = "utf-8") -> str:
    """The body as one text."""
    return to_str(body, encoding)


def to_str(body: Any, encoding: str = "utf-8") -> str:
    """Decode bytes with the request's charset (UTF-8 by default); a leading BOM is dropped.

    Raises `InvalidInput` naming the offending byte offset (never the content) for undecodable bytes, and
    `UnsupportedMediaType` for a charset outside `SUPPORTED_CHARSETS`.
    """
    encoding = _supported_charset(encoding)
    if isinstance(body, str):  # already decoded by the model server
        return body.removeprefix("\ufeff")
    if body is None:
        raise InvalidInput(
            "the request body is empty; with `curl -d` also send -H 'Content-Type: application/json' "
            "(without it curl posts a form)"
        )
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise InvalidInput(f"expected a text body, got {type(body).__name__}")
    try:
        return bytes(body).decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"request body is not valid {encoding} (invalid byte at offset {error.start})") from None


def _supported_charset(encoding: str) -> str:
    """Python's name for a supported charset; `UnsupportedMediaType` for any other."""
    try:
        name = codecs.lookup(encoding).name
        if name in SUPPORTED_CHARSETS:
            return name
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        pass
    raise UnsupportedMediaType(
        f"charset {quote_name(encoding)} is not supported; use one of: {', '.join(SUPPORTED_CHARSETS)}"
    )
