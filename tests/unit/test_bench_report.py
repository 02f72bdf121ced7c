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


def engine_results() -> Results:
    """`sample_results` with engine ceilings (torch fp32, ONNX Runtime int8, as served: 2x1, batch 8, arrival),
    an `auto` variant serving int8 with its CPU per request by process, and three starts."""
    from bench.processes import RequestCost
    from bench.records import CeilingPoint, ServedPoint, StartRecord
    from tests.unit.bench_results import measured, variant

    data = sample_results()
    data.model.shipped_config = {"batchSize": 8}
    data.ceiling += [
        CeilingPoint("short", "fp32", "2x1", 8, "arrival", 100.0, 1e10, 2, 0.0, "torch", 20.0),
        CeilingPoint("short", "int8", "2x1", 8, "arrival", 400.0, 4e10, 2, 0.0, "onnxruntime", 0.5),
        CeilingPoint("short", "int8", "2x1", 16, "sorted", 999.0, 9e10, 2, 0.0, "onnxruntime", 0.4),
        CeilingPoint("mixed", "int8", "2x1", 8, "arrival", 118.75, 1e10, 2, 0.9, "onnxruntime", 2.0),
    ]
    auto = variant("auto", "auto", 12.0, "int8")
    auto.engine, auto.env = "onnxruntime", {}
    data.variants.append(auto)
    point = measured(300.0)
    point.cost = RequestCost(0.25, [0.3, 0.35], 0.4)
    data.served += [ServedPoint("auto", "short", 16, point), ServedPoint("auto", "mixed", 16, measured(95.0))]
    data.starts = [StartRecord("auto", 11.0, "onnxruntime-int8", "probe (...)") for _ in range(2)]
    return data


def test_engine_ceilings_are_the_served_layout_and_batch_and_auto_is_judged_against_the_best():
    from bench.report.lookups import best_engine_ceiling, engine_ceiling, served_as

    data = engine_results()
    assert served_as(data, "auto") == "onnxruntime-int8"
    assert engine_ceiling(data, "onnxruntime-int8", "short").texts_per_second == 400.0  # not the sorted 16
    assert best_engine_ceiling(data, "short").variant == "onnxruntime-int8"
    text = render_markdown(data)
    assert "| served auto / best engine's in-process ceiling (onnxruntime-int8), short, c=16 | 0.75× |" in text
    assert "| ≥ 0.6 | **met** |" in text
    assert "| served auto / best engine's in-process ceiling (onnxruntime-int8), mixed, c=16 | 0.80× ‡ |" in text
    # frontend 0.25 + workers 0.65 - model 0.5 (the int8 ceiling's CPU per text, one text per request)
    assert "| served auto: server CPU per request outside the model, short, c=16 | 0.40 ms | ≤ 0.3 ms |" in text
    assert "| auto: the same variant on every start | 3 of 3 starts: onnxruntime-int8 | every start | **met** |" in text
    assert "| served auto / fastest served engine variant (bf16), short, c=16 | 1.67× | ≥ 0.9 | **met** |" in text
    assert (
        "| auto | onnxruntime-int8 | short | 300.0 | 0.75× | 0.75× | 0.25 | 0.30 + 0.35 | 0.40 | 0.50 | 0.40 |" in text
    )


def test_a_start_that_chose_another_variant_fails_the_same_choice_target():
    from bench.records import StartRecord

    data = engine_results()
    data.starts.append(StartRecord("auto", 11.0, "torch-bf16", "probe (...)"))
    assert "| auto: the same variant on every start | not all of 4 starts: onnxruntime-int8, torch-bf16 |" in (
        render_markdown(data)
    )


def test_a_share_of_peak_above_100_percent_is_marked_and_explained():
    data = sample_results()
    data.peaks.fp32 = 1e9  # a peak measured far too low
    text = render_markdown(data)
    assert "| 0.90× | 9.0 | 900% § |" in text
    assert "above 100%, which a real peak cannot be" in text


def test_a_busy_machine_is_named_before_any_figure():
    data = sample_results()
    assert "Disturbed run" not in render_markdown(data)
    data.machine.busy_percent_before = 60.0
    text = render_markdown(data)
    assert text.index("**Disturbed run**") < text.index("## Machine and model")


def paired_round(workload: str, number: int, ceiling: list[float], served: float, **extra):
    from bench.processes import RequestCost
    from bench.records import PairedRound

    cost = RequestCost(0.1, [0.2, 0.2], 0.1)
    return PairedRound("auto", workload, number, "onnxruntime-int8", ceiling, [0.4, 0.4], served, 1.0, cost, **extra)


def test_paired_rounds_judge_the_best_engine_targets_on_the_median_round():
    data = engine_results()
    data.paired = [
        paired_round("short", 1, [480.0, 520.0], 300.0),  # 0.60
        paired_round("short", 2, [400.0, 400.0], 300.0),  # 0.75
        paired_round("short", 3, [600.0, 600.0], 300.0),  # 0.50
        paired_round("mixed", 1, [100.0, 100.0], 95.0, foreign_cores=0.5),
    ]
    text = render_markdown(data)
    row = "| served auto / best engine's in-process ceiling (onnxruntime-int8), {}, c=16, median of {} paired rounds |"
    assert f"{row.format('short', 3)} 0.60× | ≥ 0.6 | **met** |" in text  # not the unpaired 0.75
    assert f"{row.format('mixed', 1)} 0.95× ‡ | ≥ 0.9 | **met** |" in text
    # frontend 0.1 + workers 0.4 - the rounds' own ceiling CPU 0.4 per text
    row = "| served auto: server CPU per request outside the model, short, c=16, median of 3 paired rounds |"
    assert f"{row} 0.10 ms | ≤ 0.3 ms | **met** |" in text
    assert "### Paired rounds" in text
    assert "| auto | short | onnxruntime-int8 | 1 | 480.0 | 300.0 | 520.0 | 0.60× | 0.10 | 0.20 + 0.20 | 0.10 |" in text
    assert "| auto | mixed | onnxruntime-int8 | 1 | 100.0 | 95.0 ‡ | 100.0 | 0.95× |" in text


def test_without_paired_rounds_the_targets_fall_back_to_the_grid_and_no_rounds_table():
    text = render_markdown(engine_results())
    assert "paired rounds" not in text
    assert "### Paired rounds" not in text


def avx2_results() -> Results:
    """`engine_results` with `auto-avx2` served on the emulated AVX2-only CPU, its own (slower) int8 ceiling
    measured there, and one start of it that chose another variant."""
    from bench.processes import RequestCost
    from bench.records import CeilingPoint, ServedPoint, StartRecord
    from tests.unit.bench_results import measured, variant

    data = engine_results()
    data.ceiling += [
        CeilingPoint("short", "int8", "2x1", 8, "arrival", 250.0, 1e10, 2, 0.0, "onnxruntime", 0.8, "avx2"),
        CeilingPoint("mixed", "int8", "2x1", 8, "arrival", 60.0, 1e10, 2, 0.0, "onnxruntime", 3.0, "avx2"),
    ]
    auto = variant("auto-avx2", "auto", 12.0, "int8")
    auto.engine, auto.env, auto.emulated_isa = "onnxruntime", {}, "AVX2"
    data.variants.append(auto)
    point = measured(200.0)
    point.cost = RequestCost(0.1, [0.4, 0.4], 0.1)
    data.served += [ServedPoint("auto-avx2", "short", 16, point), ServedPoint("auto-avx2", "mixed", 16, measured(57.0))]
    data.starts += [StartRecord("auto-avx2", 9.0, "onnxruntime-int8", "probe"), StartRecord("auto-avx2", 9.0,
                    "torch-fp32", "probe")]  # fmt: skip
    return data


def test_auto_on_the_emulated_avx2_cpu_is_judged_against_the_ceilings_measured_there():
    from bench.report.lookups import best_engine_ceiling, engine_ceiling

    data = avx2_results()
    assert engine_ceiling(data, "onnxruntime-int8", "short").texts_per_second == 400.0  # the host's own
    assert best_engine_ceiling(data, "short", "avx2").texts_per_second == 250.0
    text = render_markdown(data)
    row = "| served auto-avx2 / best engine's in-process ceiling (onnxruntime-int8, AVX2 emulated), {}, c=16 |"
    assert f"{row.format('short')} 0.80× | ≥ 0.6 | **met** |" in text  # 200 / 250, not 200 / 400
    assert f"{row.format('mixed')} 0.95× | ≥ 0.9 | **met** |" in text
    # frontend 0.1 + workers 0.8 - the AVX2 int8 ceiling's 0.8 per text
    assert "| served auto-avx2: server CPU per request outside the model, short, c=16 | 0.10 ms |" in text
    assert "| auto-avx2: the same variant on every start | not all of 3 starts: onnxruntime-int8, torch-fp32 |" in text
    assert (
        "| auto-avx2 | onnxruntime-int8 | short | 200.0 | 0.80× | 0.80× | 0.10 | 0.40 + 0.40 | 0.10 | 0.80 | 0.10 |"
        in (text)
    )
    assert "| onnxruntime-int8, AVX2 emulated | short | 2x1 | 8 | arrival | 250.0 | 0.80 |" in text
    assert "| auto-avx2 | 2 | torch-fp32 | 9.0 s | probe |" in text  # starts counted per variant


def test_the_native_targets_ignore_the_emulated_ceilings():
    from bench.report.lookups import ceiling_best

    data = avx2_results()
    data.ceiling.append(data.ceiling[-1].__class__("short", "fp32", "2x1", 8, "arrival", 9999.0, 1e10, 2, isa="avx2"))
    assert ceiling_best(data, "short", "fp32").texts_per_second != 9999.0
    assert "| served auto / best engine's in-process ceiling (onnxruntime-int8), short, c=16 | 0.75× |" in (
        render_markdown(data)
    )
