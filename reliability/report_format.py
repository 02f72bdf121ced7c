"""Formatting shared by the report's sections: markdown tables, verdict words, durations, counts."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    return [
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
        *("| " + " | ".join(cell(value) for value in row) + " |" for row in rows),
        "",
    ]


def holds(problems: Sequence[str] | None) -> str:
    if problems is None:
        return "not run"
    return "yes" if not problems else "**no**"


def seconds(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f} s"


def recorded(value: object | None) -> str:
    """A figure older records lack (None) as `not recorded`."""
    return "not recorded" if value is None else str(value)


def duration(value: float) -> str:
    return f"{value / 60:.0f} min" if value >= 120 else f"{value:.0f} s"


def message(answer: str | None) -> str:
    """TorchServe's JSON error as one line: its status and message."""
    if not answer:
        return "-"
    status, _, body = answer.partition(" ") if answer[:3].isdigit() else ("", "", answer)
    found = re.search(r'"(?:message|status)":\s*("(?:[^"\\]|\\.)*")', body)
    return f"{status} {json.loads(found.group(1)) if found else ' '.join(body.split())}".strip()


def counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{count}× {status}" for status, count in sorted(counts.items()))
