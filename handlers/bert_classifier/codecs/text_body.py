"""`text/plain`: the whole body is one text. Also the shared bytes-to-str step for every format."""

from __future__ import annotations

import codecs
from typing import Any

from ..errors import InvalidInput, UnsupportedMediaType


def decode(body: Any, encoding: str = "utf-8") -> str:
    """The body as one text."""
    return to_str(body, encoding)


def to_str(body: Any, encoding: str = "utf-8") -> str:
    """Decode bytes with the request's charset (UTF-8 by default); a leading BOM is dropped.

    Raises `InvalidInput` naming the offending byte offset (never the content) for undecodable bytes, and
    `UnsupportedMediaType` for a charset Python does not know as a text encoding.
    """
    _check_charset(encoding)
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
    except UnicodeError:  # text codecs such as punycode or undefined fail without a byte offset
        raise InvalidInput(f"request body is not valid {encoding[:40]}") from None


def _check_charset(encoding: str) -> None:
    try:
        if codecs.lookup(encoding)._is_text_encoding:
            return
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        pass
    raise UnsupportedMediaType(f"charset {encoding[:40]!r} is not supported; send UTF-8")
