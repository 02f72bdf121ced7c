"""The figures deployments are sized from, read from the committed `make bench` report (docs/reports/bench.md).

`make bench` writes its results as markdown tables; nothing else keeps them. This module reads the served table
(one row per variant × workload × concurrency) and the machine table, by column name, and fails naming the
missing table or column when the report's layout changes (a unit test reads the committed report).

`capacity()` turns one variant's rows into what autoscalers need: the most requests per second one server
reached, and the smallest concurrency that got within `knee` of it (more in flight only adds queueing).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_REPORT = ROOT / "docs" / "reports" / "bench.md"
SERVED_HEADER = ("variant", "workload", "concurrency", "requests/s")
# fp32 runs on every CPU (bf16 needs AVX512-BF16 or AMX), and `mixed` (80% headlines, 20% whole articles) is
# the realistic workload: the conservative reference for sizing.
REFERENCE_VARIANT = "fp32"
REFERENCE_WORKLOAD = "mixed"
KNEE = 0.9
# Peak resident memory of TorchServe serving a model of the default's size (MiniLM-L6 BERT, 22.7 M parameters)
# with the shipped model-config.yaml (frontend + 2 workers) under 64 whole articles per request, measured once on
# the bench machine (psutil, whole process tree). `make bench` does not record memory yet: move it there.
SERVED_PEAK_MIB = 1316
MEMORY_HEADROOM = 1.5


class BenchReportError(ValueError):
    """docs/reports/bench.md does not hold what sizing needs; the message says what is missing."""


@dataclass(frozen=True)
class ServedPoint:
    """One row of the served table: the real TorchServe under closed-loop load (medians of the repetitions)."""

    variant: str
    workload: str
    concurrency: int
    requests_per_s: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class Capacity:
    """What one server of the bench machine sustains, for one variant and workload."""

    variant: str
    workload: str
    cores: int
    """Usable cores of the machine the bench ran on: the CPU one server was measured with."""
    max_requests_per_s: float
    knee_concurrency: int
    """The smallest measured concurrency whose requests/s reached `KNEE` × the maximum."""
    knee_p99_ms: float


def memory_mib(step_mib: int, peak_mib: int = SERVED_PEAK_MIB, headroom: float = MEMORY_HEADROOM) -> int:
    """Memory for one server: the measured peak with headroom, rounded up to whole `step_mib`s."""
    return math.ceil(peak_mib * headroom / step_mib) * step_mib


def read_served(report: Path = BENCH_REPORT) -> list[ServedPoint]:
    """Every row of the report's served table."""
    rows = _table(report.read_text(), SERVED_HEADER, report)
    return [
        ServedPoint(
            variant=row["variant"],
            workload=row["workload"],
            concurrency=int(row["concurrency"]),
            requests_per_s=_number(row["requests/s"]),
            p99_ms=_number(row["p99 ms"]),
            errors=int(_number(row["errors"])),
        )
        for row in rows
    ]


def read_cores(report: Path = BENCH_REPORT) -> int:
    """Usable cores of the bench machine (the machine table's CPU row: '..., 2 usable cores, ...')."""
    match = re.search(r"^\|\s*CPU\s*\|[^|\n]*?(\d+) usable cores", report.read_text(), re.MULTILINE)
    if not match:
        raise BenchReportError(f"{report}: no '| CPU | ... N usable cores' row in the machine table")
    return int(match[1])


def capacity(
    report: Path = BENCH_REPORT,
    variant: str = REFERENCE_VARIANT,
    workload: str = REFERENCE_WORKLOAD,
    knee: float = KNEE,
) -> Capacity:
    """The capacity of one server for `variant` on `workload`, from the report's error-free rows."""
    points = [
        point
        for point in read_served(report)
        if point.variant == variant and point.workload == workload and point.errors == 0
    ]
    if not points:
        raise BenchReportError(f"{report}: no error-free served rows for variant {variant!r}, workload {workload!r}")
    best = max(point.requests_per_s for point in points)
    knee_point = min((p for p in points if p.requests_per_s >= knee * best), key=lambda p: p.concurrency)
    return Capacity(
        variant=variant,
        workload=workload,
        cores=read_cores(report),
        max_requests_per_s=best,
        knee_concurrency=knee_point.concurrency,
        knee_p99_ms=knee_point.p99_ms,
    )


def _table(text: str, header_start: tuple[str, ...], report: Path) -> list[dict[str, str]]:
    """The rows (column name -> cell) of the first markdown table whose header starts with `header_start[0]`
    and holds every column of `header_start`."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        cells = _cells(line)
        if cells and cells[0] == header_start[0] and all(column in cells for column in header_start):
            rows = []
            for row_line in lines[index + 2 :]:  # skip the |---| line
                if not row_line.startswith("|"):
                    break
                rows.append(dict(zip(cells, _cells(row_line), strict=True)))
            return rows
    raise BenchReportError(f"{report}: no table with columns {', '.join(header_start)}")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")] if line.startswith("|") else []


def _number(cell: str) -> float:
    """'1,518.1' -> 1518.1; the report groups thousands with commas."""
    return float(cell.replace(",", ""))
