"""`application/jsonlines`: one JSON string, or object with a text field (or a text pair: `text` and `text_pair`),
per line; one result per line."""

from __future__ import annotations

import re
from typing import Any

from ..errors import InvalidInput
from .json_body import TEXT_FIELDS, parse_json, type_name
from .limits import check_text_count
from .pairs import Item, pair_from
from .text_body import to_str

# Only CR/LF end a line: str.splitlines() would also split on U+2028, U+0085 etc. inside JSON strings.
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n|$)")


def decode(body: Any, encoding: str = "utf-8", max_texts: int | None = None) -> tuple[Item, ...]:
    """The text of each non-blank line, in order; stops reading at text `max_texts + 1` (a 413). Errors name
    the line number (1-based)."""
    texts: list[str] = []
    text = to_str(body, encoding)
    for number, match in enumerate(LINE.finditer(text), start=1):
        line = match.group().rstrip("\r\n")
        if line.strip():
            texts.append(_text_of_line(line, number))
            check_text_count(len(texts), max_texts)
        if match.end() == len(text):
            break
    return tuple(texts)


def _text_of_line(line: str, number: int) -> Item:
    try:
        record = parse_json(line)
    except InvalidInput as error:
        raise InvalidInput(f"line {number}: {error.message}") from None
    if isinstance(record, str):
        return record
    if isinstance(record, dict):
        pair = pair_from(record, f"line {number}")
        if pair is not None:
            return pair
        fields = [name for name in TEXT_FIELDS if name in record]
        if len(fields) == 1 and isinstance(record[fields[0]], str):
            return record[fields[0]]
    raise InvalidInput(
        f"line {number}: expected a string, an object with one string field 'data', 'inputs' or 'text', or a text "
        f"pair ('text' and 'text_pair'), got {type_name(record)}"
    )
