"""docs/architectures.md: the architecture matrix's table between two markers, rendered, read back and replaced.

`tests/integration/test_architectures.py` measures the rows; the page's prose around the markers is written by
hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "architectures.md"
START, END = "<!-- architecture-matrix:start -->", "<!-- architecture-matrix:end -->"


def render_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)])


def table_in(page: str) -> str:
    """The table between the markers."""
    return page.split(START, 1)[1].split(END, 1)[0].strip()


def with_table(page: str, table: str) -> str:
    """`page` with `table` between the markers instead of what was there."""
    before, rest = page.split(START, 1)
    return f"{before}{START}\n{table}\n{END}{rest.split(END, 1)[1]}"


def without_column(table: str, column: int) -> str:
    """`table` without its `column`-th column (0 is the first)."""
    return "\n".join(
        "|".join(cell for i, cell in enumerate(line.split("|")) if i != column + 1) for line in table.splitlines()
    )
