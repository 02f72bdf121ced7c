"""`text/csv`: one text per row, optionally under a header row naming the text column; a header that also names a
`text_pair` column makes each row a text pair (a row whose `text_pair` cell is empty is a single text)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from ..errors import InvalidInput
from .limits import check_text_count
from .pairs import SECOND, Item, TextPair
from .text_body import to_str

HEADER_NAMES = ("text", "inputs", "data")


def decode(body: Any, encoding: str = "utf-8", max_texts: int | None = None) -> tuple[Item, ...]:
    """The text of each non-empty row, in order; stops reading at row `max_texts + 1` (a 413).

    A first row whose cells include `text`, `inputs` or `data` is a header and picks the column; without a
    header every row must have exactly one field (quote texts that contain commas or newlines).
    """
    texts: list[Item] = []
    column = second = None
    for number, row in enumerate(_rows(to_str(body, encoding)), start=1):
        if number == 1:
            column = _header_column(row)
            if column is not None:
                second = _pair_column(row)
                continue
        texts.append(_item(row, column, second, number))
        check_text_count(len(texts), max_texts)
    return tuple(texts)


def _pair_column(header: list[str]) -> int | None:
    names = [cell.strip().lower() for cell in header]
    return names.index(SECOND) if SECOND in names else None


def _item(row: list[str], column: int | None, second: int | None, number: int) -> Item:
    text = _cell(row, column, number)
    if second is None or second >= len(row) or not row[second]:
        return text
    return TextPair(text, row[second])


def _rows(text: str) -> Iterator[list[str]]:
    """The non-empty rows, read lazily; strict, so an unclosed quote or stray characters after one are an error
    (the lenient default would read the rest of the body into one field)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        yield from (row for row in reader if row)
    except csv.Error as error:  # its message names the problem, never the content
        raise InvalidInput(f"malformed CSV at line {reader.line_num}: {error}") from None


def _header_column(first_row: list[str]) -> int | None:
    """The text column's index if the first row is a header, else None."""
    names = [cell.strip().lower() for cell in first_row]
    return next((names.index(name) for name in HEADER_NAMES if name in names), None)


def _cell(row: list[str], column: int | None, number: int) -> str:
    if column is None:
        if len(row) == 1:
            return row[0]
        raise InvalidInput(
            f"CSV row {number} has {len(row)} fields; quote texts that contain commas, "
            f"or add a header row with a 'text' column"
        )
    if column >= len(row):
        raise InvalidInput(f"CSV row {number} has no field {column + 1} (the text column)")
    return row[column]
