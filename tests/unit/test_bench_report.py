"""bench.report: ratios, the Markdown report, the plot, and rendering again from saved raw results."""

from __future__ import annotations

import dataclasses

import pytest

from bench.records import Machine, ModelInfo, Results
from bench.report import write_report
from bench.report.__main__ import main as report_main
from bench.report.lookups import ceiling_best, served_over_ceiling, speedup
from bench.report.markdown import render_markdown
from tests.unit.bench_results import sample_results

pytestmark = pytest.mark.unit


def test_ratios():
    data = sample_results()
    assert served_over_ceiling(data, "fp32", "short", 16) == pytest.approx(0.9)
    assert served_over_ceiling(data, "bf16", "mixed", 16) == pytest.approx(0.9)
    assert speedup(data, "bf16", "fp32", "mixed", 16) == pytest.approx(2.25)
    assert served_over_ceiling(data, "fp32", "long", 16) is None
    assert ceiling_best(data, "short", "bf16").texts_per_second == 200.0
    assert ceiling_best(data, "short", "bf16", max_batch=8) is None


def test_markdown_report_quotes_the_command_ratios_and_verdicts():
    text = render_markdown(sample_results())
    assert "`python -m bench --out docs`" in text
    assert (
        "| shipped: served fp32 / in-process fp32 ceiling, short, c=16 | 0.90× (0.90× of the ceiling at ≤ 16 "
        "texts/call) | ≥ 0.85 | **met** |"
    ) in text
    assert "| shipped: served fp32 / in-process fp32 ceiling, mixed, c=16 | 0.80× (" in text
    assert "| ≥ 0.85 | **not met** |" in text
    assert "| shipped: served bf16 / served fp32, mixed, c=16 | 2.25× | ≥ 2.0 | **met** |" in text
    assert "| start-to-ready, bf16 archive | 20.0 s | < 15 s | **not met** |" in text
    assert "### One change at a time (concurrency 16)" in text
    assert "| bf16 | shipped | 180.0 | 2.00× | 90.0 | 2.25× |" in text
    assert "| bf16 − fp32 held-out accuracy | 0.00 points | within ±0.5 | **met** |" in text
    assert "![throughput and p99 latency against concurrency](bench.png)" in text
    assert "no measurement was disturbed" in text
    assert "| fp32 | 32 | 5 | mixed | 16 | 45.0 |" in text  # the sweep
    assert "| short | 2000 | 0% | 12.5 | 30 | 0.26 |" in text  # the workloads


def test_targets_come_from_the_plan_the_run_recorded():
    data = sample_results()
    data.plan = dataclasses.replace(
        data.plan, headline_concurrency=1, targets=dataclasses.replace(data.plan.targets, served_over_ceiling=0.1)
    )
    text = render_markdown(data)
    assert "| shipped: served fp32 / in-process fp32 ceiling, short, c=1 | 0.20× (" in text
    assert "| ≥ 0.1 | **met** |" in text


def test_report_flags_disturbed_measurements_and_survives_missing_parts():
    data = sample_results()
    data.served[0].measured.foreign_cores = 0.9
    assert "disturbed measurements (other processes > 0.25 cores): fp32/short/c16" in render_markdown(data)
    minimal = Results(
        "python -m bench --quick", True, sample_results().plan, "?", Machine(), ModelInfo("m", {}, {}, "float32")
    )
    text = render_markdown(minimal)
    assert "quick smoke run" in text
    assert "not measured" in text


def test_write_report_writes_markdown_png_and_raw_results_and_renders_them_again(tmp_path):
    pytest.importorskip("matplotlib")
    paths = write_report(sample_results(), tmp_path)
    assert [p.name for p in paths] == ["bench.md", "bench.png", "bench-results.json"]
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = (tmp_path / "bench.md").read_text()
    again = tmp_path / "again"
    assert report_main([str(tmp_path / "bench-results.json"), "--out", str(again)]) == 0
    assert (again / "bench.md").read_text() == first
    assert (again / "bench.png").is_file()
    assert not (again / "bench-results.json").exists()


def test_protocols_are_compared_with_predictions_and_survive_the_raw_results(tmp_path):
    from bench.records import ProtocolPoint

    data = sample_results()
    data.protocols = [
        ProtocolPoint("fp32", "predictions", 3, 100.0, 0.05, 0.2, 0),
        ProtocolPoint("fp32", "oip-rest", 3, 95.0, 0.05, 0.2, 0),
        ProtocolPoint("fp32", "grpc", 3, 120.0, 0.04, 0.1, 1),
    ]
    text = render_markdown(data)
    assert "## Protocols" in text
    assert "| oip-rest | 95.0 | 0.95× | 50.0 | 200.0 | 0 |" in text
    assert "| grpc | 120.0 | 1.20× | 40.0 | 100.0 | 1 |" in text
    pytest.importorskip("matplotlib")
    write_report(data, tmp_path)
    assert report_main([str(tmp_path / "bench-results.json"), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "bench.md").read_text() == (tmp_path / "bench.md").read_text()
