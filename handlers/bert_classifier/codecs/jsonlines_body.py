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
LINE_END_CHAR = re.compile(r"[\r\n]")
# Blank lines are skipped by searching for the next non-blank character (in C), not line by line in Python: a
# body of 6 MiB of newlines is 6M lines, which cost a worker 1.3 s of CPU read one by one.
NON_BLANK = re.compile(r"\S")


def decode(body: Any, encoding: str = "utf-8", max_texts: int | None = None) -> tuple[Item, ...]:
    """The text of each non-blank line, in order; stops reading at text `max_texts + 1` (a 413). Errors name
    the line number (1-based)."""
    texts: list[Item] = []
    text = to_str(body, encoding)
    position = 0
    while found := NON_BLANK.search(text, position):
        # The line starts after the last line end between the previous line and this character.
        start = max(text.rfind("\r", position, found.start()), text.rfind("\n", position, found.start())) + 1
        end_match = LINE_END_CHAR.search(text, found.start())
        position = end_match.start() if end_match else len(text)
        try:
            texts.append(_text_of_line(text[start:position]))
        except InvalidInput as error:
            raise InvalidInput(f"line {_line_number(text, start)}: {error.message}") from None
        check_text_count(len(texts), max_texts)
    return tuple(texts)


def _line_number(text: str, start: int) -> int:
    """The 1-based number of the line starting at `start`: CR LF, CR and LF each end one line."""
    return 1 + text.count("\n", 0, start) + text.count("\r", 0, start) - text.count("\r\n", 0, start)


def _text_of_line(line: str) -> Item:
    """The line's text or text pair; errors without the line number (`decode` adds it)."""
    record = parse_json(line)
    if isinstance(record, str):
        return record
    if isinstance(record, dict):
        pair = pair_from(record)
        if pair is not None:
            return pair
        fields = [name for name in TEXT_FIELDS if name in record]
        if len(fields) == 1 and isinstance(record[fields[0]], str):
            return record[fields[0]]
    raise InvalidInput(
        f"expected a string, an object with one string field 'data', 'inputs' or 'text', or a text pair ('text' "
        f"and 'text_pair'), got {type_name(record)}"
    )
