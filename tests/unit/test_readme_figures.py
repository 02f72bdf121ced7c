"""Measured figures quoted in README.md and the guide pages are the committed reports' own: inside a block
`<!-- figures from docs/reports/X.md -->` ... `<!-- end figures -->` every figure stands in a markdown table whose
columns are columns of a table in docs/reports/X.md (the output of the command that measured it: `make bench`,
`make reliability`, `make bench-explanations`), and each cell must equal the report's cell in the same row and
column. The row is named by the quoted table's leading columns: the fewest of the report table's own leading
columns that tell its rows apart.
Re-running a command and forgetting a page that quotes it fails here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
BLOCK = re.compile(r"<!-- figures from (\S+) -->(.*?)<!-- end figures -->", re.S)
DIGIT = re.compile(r"\d")


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def pages() -> list[Path]:
    """README.md and every hand-written page under docs/ (reports and generated reference pages quote nothing)."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if p.parent.name not in ("reports", "reference"))
    return [ROOT / "README.md", *docs]


def figure_blocks(text: str) -> list[tuple[str, str]]:
    return [(source, body) for source, body in BLOCK.findall(text)]


def quoted_blocks() -> list[tuple[str, str, str]]:
    """(page, report, block) for every figures block of every page."""
    return [
        (str(page.relative_to(ROOT)), source, body)
        for page in pages()
        for source, body in figure_blocks(page.read_text(encoding="utf-8"))
    ]


def cells(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.strip().strip("|").split("|"))


def tables(text: str) -> list[Table]:
    """Every markdown table of `text` (a header line, a `---` line, then rows)."""
    lines = text.splitlines()
    found = []
    for index in range(len(lines) - 1):
        if lines[index].startswith("|") and re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", lines[index + 1].strip()):
            if index > 0 and lines[index - 1].startswith("|"):
                continue  # a row of a table above, followed by another `---` line: not a header
            rows = []
            for line in lines[index + 2 :]:
                if not line.startswith("|"):
                    break
                rows.append(cells(line))
            found.append(Table(cells(lines[index]), tuple(rows)))
    return found


def untabled_figures(block: str) -> list[str]:
    """Lines of a block that hold a digit outside a table: such a figure has no row and column to check."""
    return [line for line in block.splitlines() if DIGIT.search(line) and not line.startswith("|")]


def columns(header: tuple[str, ...], report_header: tuple[str, ...]) -> list[int] | None:
    """The report column of each quoted column (repeated names matched in order), or None if one is missing."""
    used: list[int] = []
    for name in header:
        candidates = [i for i, h in enumerate(report_header) if h == name and i not in used]
        if not candidates:
            return None
        used.append(candidates[0])
    return used


def row_key_columns(where: list[int], report: Table) -> int:
    """How many leading quoted columns name a row: the fewest of the report table's leading columns (quoted in the
    same place) whose cells tell its rows apart; 0 when the quoted leading columns do not."""
    leading = 0
    while leading < len(where) and where[leading] == leading:
        leading += 1
    for keys in range(1, leading + 1):
        if len({row[:keys] for row in report.rows}) == len(report.rows):
            return keys
    return 0


def mismatches(quoted: Table, report: Table) -> list[str] | None:
    """What differs between a quoted table and a report table; None when the report table cannot be the one quoted
    (other columns, or a row it does not hold exactly once)."""
    where = columns(quoted.header, report.header)
    if where is None:
        return None
    keys = row_key_columns(where, report)
    if keys == 0:
        return None
    problems = []
    for row in quoted.rows:
        matching = [r for r in report.rows if tuple(r[i] for i in where[:keys]) == row[:keys]]
        if len(matching) != 1:
            return None
        for name, column, cell in zip(quoted.header[keys:], where[keys:], row[keys:], strict=True):
            if matching[0][column] != cell:
                where_ = f"row {' / '.join(row[:keys])!r}, column {name!r}"
                problems.append(f"{where_}: {cell!r}, report {matching[0][column]!r}")
    return problems


def check_block(block: str, report_text: str) -> list[str]:
    """Every problem of one figures block against its report's text."""
    problems = [f"a figure outside a table: {line.strip()!r}" for line in untabled_figures(block)]
    report_tables = tables(report_text)
    for quoted in tables(block):
        verdicts = [m for m in (mismatches(quoted, table) for table in report_tables) if m is not None]
        if not verdicts:
            problems.append(f"no report table has the columns {quoted.header} and every row quoted")
        elif all(verdicts):
            problems.extend(verdicts[0])
    return problems


def test_the_pages_mark_their_measured_figures_with_their_reports():
    sources = {source for _, source, _ in quoted_blocks()}
    assert {"docs/reports/bench.md", "docs/reports/reliability.md", "docs/reports/explanations.md"} <= sources


@pytest.mark.parametrize(("page", "source", "block"), quoted_blocks(), ids=lambda v: v[:40])
def test_every_quoted_figure_is_the_reports_figure_in_the_same_row_and_column(page, source, block):
    problems = check_block(block, (ROOT / source).read_text(encoding="utf-8"))
    assert not problems, f"{page} quoting {source}:\n" + "\n".join(problems)


REPORT = """
| variant | workload | concurrency | texts/s | p99 ms |
|---|---|---|---|---|
| fp32 | short | 16 | 405.8 | 40.1 |
| fp32 | short | 64 | 404.8 | 192.0 |
| fp32 | mixed | 16 | 121.5 | 228.9 |
| bf16 | short | 16 | 327.0 | 50.2 |
"""


def test_a_figure_from_another_row_of_the_report_is_caught():
    # 327.0 is in the report, but in bf16's row: a check that only looks the number up would pass this.
    block = "| variant | workload | concurrency | texts/s |\n|---|---|---|---|\n| fp32 | short | 16 | 327.0 |\n"
    assert check_block(block, REPORT) == ["row 'fp32 / short / 16', column 'texts/s': '327.0', report '405.8'"]


def test_a_figure_from_another_column_or_row_label_is_caught():
    wrong_column = "| variant | workload | concurrency | p99 ms |\n|---|---|---|---|\n| fp32 | mixed | 16 | 121.5 |\n"
    unknown_row = "| variant | workload | concurrency | texts/s |\n|---|---|---|---|\n| fp16 | short | 16 | 405.8 |\n"
    assert check_block(wrong_column, REPORT) == ["row 'fp32 / mixed / 16', column 'p99 ms': '121.5', report '228.9'"]
    assert check_block(unknown_row, REPORT)[0].startswith("no report table")


def test_the_same_row_and_column_passes_and_prose_figures_are_refused():
    block = "| variant | workload | concurrency | p99 ms |\n|---|---|---|---|\n| fp32 | mixed | 16 | 228.9 |\n"
    assert check_block(block, REPORT) == []
    assert check_block("served 405.8 texts/s", REPORT) == ["a figure outside a table: 'served 405.8 texts/s'"]
