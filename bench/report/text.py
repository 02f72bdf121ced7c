"""Formatting numbers and Markdown tables for the report."""

from __future__ import annotations

import math
from collections.abc import Sequence


def fmt(value: float | None, digits: int = 1, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}{unit}"


def ratio(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}×"


def percent(value: float | None) -> str:
    return fmt(100 * value, 0, "%") if value is not None else "–"


def share(value: float | None, peak: float | None) -> str:
    """`value` as a percentage of `peak`."""
    return fmt(100 * value / peak, 0, "%") if value is not None and peak else "–"


def gflops(value: float | None) -> str:
    return fmt(value / 1e9 if value is not None else None, 1)


def verdict(value: float | None, target: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "not measured"
    met = value >= target if higher_is_better else value <= target
    return "**met**" if met else "**not met**"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return [*lines, ""]
