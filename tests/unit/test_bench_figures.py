"""Sizing figures read from the committed `make bench` report (docs/reports/bench.md)."""

from __future__ import annotations

import pytest

from tools.bench_figures import BENCH_REPORT, BenchReportError, capacity, memory_mib, read_cores, read_served

pytestmark = pytest.mark.unit

SERVED = """\
| CPU | Test CPU, 4 usable cores, 8 GiB |

| variant | workload | concurrency | texts/s | requests/s | p50 ms | p99 ms | errors |
|---|---|---|---|---|---|---|---|
| fp32 | mixed | 1 | 10.0 | 10.0 | 5 | 9.5 | 0 |
| fp32 | mixed | 4 | 50.0 | 50.0 | 5 | 20.0 | 0 |
| fp32 | mixed | 16 | 95.0 | 95.0 | 5 | 150.0 | 0 |
| fp32 | mixed | 64 | 1,100.0 | 1,100.0 | 5 | 1,500.5 | 3 |
| fp32 | mixed | 32 | 100.0 | 100.0 | 5 | 400.0 | 0 |
"""


def test_the_committed_report_has_what_sizing_needs():
    fit = capacity(BENCH_REPORT)
    assert fit.cores == read_cores(BENCH_REPORT) >= 1
    rows = [p for p in read_served(BENCH_REPORT) if (p.variant, p.workload) == ("fp32", "mixed")]
    assert fit.max_requests_per_s == max(p.requests_per_s for p in rows)
    assert fit.knee_concurrency in {p.concurrency for p in rows}


def test_capacity_is_the_best_error_free_rate_and_the_first_concurrency_within_90_percent(tmp_path):
    report = tmp_path / "bench.md"
    report.write_text(SERVED)
    fit = capacity(report)
    assert fit.max_requests_per_s == 100.0  # the 1,100 requests/s point had errors
    assert (fit.knee_concurrency, fit.knee_p99_ms) == (16, 150.0)
    assert fit.cores == 4


def test_a_report_without_the_served_table_or_the_variant_is_refused_by_name(tmp_path):
    report = tmp_path / "bench.md"
    report.write_text("| CPU | x, 2 usable cores |\n\n| variant | workload | texts/s |\n|---|---|---|\n")
    with pytest.raises(BenchReportError, match="requests/s"):
        capacity(report)
    report.write_text(SERVED)
    with pytest.raises(BenchReportError, match="'bf16'"):
        capacity(report, variant="bf16")


def test_memory_is_the_measured_peak_with_headroom_in_whole_steps():
    assert memory_mib(256, peak_mib=1316, headroom=1.5) == 2048
    assert memory_mib(1024, peak_mib=1316, headroom=1.5) == 2048
    assert memory_mib(1024, peak_mib=1400, headroom=1.5) == 3072
