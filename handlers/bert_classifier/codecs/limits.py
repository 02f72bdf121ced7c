"""Per-request limits every codec applies: texts per request, body size, and texts we can encode."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import InvalidInput, PayloadTooLarge


def check_text_count(count: int, max_texts: int | None) -> None:
    """Called as texts are read, so a body with too many rows stops at row `max_texts + 1`, not at its end."""
    if max_texts is not None and count > max_texts:
        raise PayloadTooLarge(f"more than {max_texts} texts in one request; the limit is {max_texts}")


def check_size(size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        raise PayloadTooLarge(f"request body is {size} bytes; the limit is {max_bytes} bytes (max_request_bytes)")


def check_pairs(pairs: Sequence[str | None]) -> None:
    """Every second text of a pair non-blank and encodable as UTF-8 (`check_texts` checks the first texts)."""
    for index, text in enumerate(pairs):
        if text is None:
            continue
        if not text.strip():
            raise InvalidInput(f"text_pair {index} is empty (the second text of pair {index})")
        _check_encodable(text, f"text_pair {index}")


def check_texts(texts: Sequence[str], max_texts: int) -> None:
    """At least one text, at most `max_texts`, none blank, each encodable as UTF-8.

    JSON may spell a lone UTF-16 surrogate (`"\\ud800"`), which no tokenizer or encoder accepts: that text is a
    400 naming its index and position rather than a failure further down.
    """
    if not texts:
        raise InvalidInput("the request contains no texts")
    check_text_count(len(texts), max_texts)
    for index, text in enumerate(texts):
        if not text.strip():
            raise InvalidInput(f"text {index} is empty")
        _check_encodable(text, f"text {index}")


def _check_encodable(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidInput(
            f"{where} has an unpaired UTF-16 surrogate at character {error.start} (a lone \\\\u escape)"
        ) from None
