"""The benchmark's pure parts: percentiles, workloads, batching for the ceiling, FLOP counts, report rendering."""

from __future__ import annotations

import asyncio
import math
import socket
import threading
from collections import Counter

import pytest

from bench.__main__ import (
    ONE_WORKER_BATCH_SIZE,
    Plan,
    _rotate,
    _worker_facts,
    archive_configs,
    catalog,
    summarise,
    variants,
)
from bench.ceiling import CeilingPoint, as_dicts, best, make_batches
from bench.load import LoadResult, json_payloads, percentile, run_load
from bench.peaks import EncoderShape, sequence_flops
from bench.report import render_markdown, served_over_ceiling, speedup, write_report
from bench.workloads import STRATUM, Article, Workload, build_workload, load_articles

pytestmark = pytest.mark.unit


def articles(n: int = 30) -> list[Article]:
    return [
        Article(f"t{i % 3}/{i:03}.txt", f"t{i % 3}", f"Headline {i}\n\nBody of article {i}. " * 3) for i in range(n)
    ]


# --- percentiles -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 99, 1.0),
        ([1.0, 2.0], 50, 1.5),
        ([3.0, 1.0, 2.0], 50, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 90, 3.7),
        (list(range(1, 101)), 99, 99.01),
        ([5.0, 1.0], 0, 1.0),
        ([5.0, 1.0], 100, 5.0),
    ],
)
def test_percentile_interpolates_like_numpy(values, q, expected):
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_of_nothing_is_nan_and_q_is_checked():
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 101)


# --- workloads ---------------------------------------------------------------------------------------------


def test_workloads_are_deterministic_and_seeded():
    corpus = articles()
    assert build_workload("mixed", corpus, 50, seed=1).texts == build_workload("mixed", corpus, 50, seed=1).texts
    assert build_workload("mixed", corpus, 50, seed=1).texts != build_workload("mixed", corpus, 50, seed=2).texts


def test_short_is_headlines_and_long_is_whole_articles():
    corpus = articles()
    short, long = build_workload("short", corpus, 20), build_workload("long", corpus, 20)
    assert all(text.startswith("Headline") and "\n" not in text for text in short.texts)
    assert all("Body of article" in text for text in long.texts)
    assert short.long_share == 0.0
    assert long.long_share == 1.0


@pytest.mark.parametrize("size", [10, 57, 200])
def test_mixed_holds_its_long_share_in_every_stretch(size):
    workload = build_workload("mixed", articles(), size, long_share=0.2)
    assert sum(workload.is_long) == round(size * 0.2)
    for start in range(0, size - STRATUM + 1, STRATUM):
        assert sum(workload.is_long[start : start + STRATUM]) == 2
    assert all(("Body" in text) == is_long for text, is_long in zip(workload.texts, workload.is_long, strict=True))


def test_workload_larger_than_the_corpus_reuses_articles():
    workload = build_workload("short", articles(5), 12)
    assert len(workload.texts) == 12
    assert len(set(workload.texts)) == 5


def test_unknown_workload_is_rejected():
    with pytest.raises(ValueError, match="unknown workload"):
        build_workload("huge", articles(), 5)


def test_load_articles_reads_topic_folders(tmp_path):
    (tmp_path / "sport").mkdir()
    (tmp_path / "sport" / "001.txt").write_text("Title here\n\nText.")
    (tmp_path / "sport" / "002.txt").write_text("   ")
    [article] = load_articles(tmp_path)
    assert (article.path, article.label, article.headline) == ("sport/001.txt", "sport", "Title here")


# --- ceiling batching --------------------------------------------------------------------------------------


def test_make_batches_covers_every_text_once_in_either_order():
    workload = Workload("mixed", [f"t{i}" for i in range(10)], [False] * 10, tokens=[10 - i for i in range(10)])
    flops = [float(i) for i in range(10)]
    arrival, arrival_flops = make_batches(workload, flops, 4, "arrival")
    assert arrival == [["t0", "t1", "t2", "t3"], ["t4", "t5", "t6", "t7"], ["t8", "t9"]]
    assert arrival_flops == [6.0, 22.0, 17.0]
    ordered, ordered_flops = make_batches(workload, flops, 4, "sorted")
    assert sorted(text for batch in ordered for text in batch) == sorted(workload.texts)
    assert ordered[0] == ["t0", "t1", "t2", "t3"]  # the longest first: the slowest calls start first
    assert set(ordered[-1]) == {"t8", "t9"}  # the shortest together
    assert sum(ordered_flops) == sum(flops)
    sample, sample_flops = make_batches(workload, flops, 4, "sorted", sample=6)
    assert sorted(text for batch in sample for text in batch) == [f"t{i}" for i in range(6)]
    assert sum(sample_flops) == sum(flops[:6])
    with pytest.raises(ValueError, match="order"):
        make_batches(workload, flops, 4, "random")


def test_best_ceiling_point():
    points = [
        CeilingPoint("short", "fp32", "1x2", 16, "sorted", 100.0, 1e9, 3),
        CeilingPoint("short", "fp32", "2x1", 16, "sorted", 150.0, 1e9, 3),
        CeilingPoint("short", "bf16", "2x1", 16, "sorted", 300.0, 1e9, 3),
    ]
    assert best(points, "short", "fp32").layout == "2x1"
    assert best(points, "long", "fp32") is None
    assert as_dicts(points)[0]["texts_per_second"] == 100.0


# --- FLOPs -------------------------------------------------------------------------------------------------


def test_minilm_flops_per_token():
    shape = EncoderShape(layers=6, hidden=384, intermediate=1536, labels=5)
    assert shape.matmul_params == 6 * (4 * 384 * 384 + 2 * 384 * 1536)  # 10.6 M
    one, two = sequence_flops(shape, 100), sequence_flops(shape, 200)
    assert one == pytest.approx(2 * shape.matmul_params * 100 + 4 * 6 * 100 * 100 * 384 + 2 * (384 * 384 + 384 * 5))
    assert two > 2 * one  # attention grows with the square of the length


# --- load generator ----------------------------------------------------------------------------------------


def test_summarise_takes_medians_and_sums_errors():
    runs = [
        LoadResult(4, requests=10, texts=10, seconds=1.0, latencies=[0.1] * 10, errors=Counter({"503": 1})),
        LoadResult(4, requests=30, texts=30, seconds=1.0, latencies=[0.2] * 30),
        LoadResult(4, requests=20, texts=20, seconds=1.0, latencies=[0.3] * 20, errors=Counter({"503": 2})),
    ]
    point = summarise(runs)
    assert point["texts_per_second"] == 20.0
    assert point["p50"] == pytest.approx(0.2)
    assert (point["errors"], point["error_kinds"], point["requests"]) == (3, {"503": 3}, 60)


def test_payloads_and_rotation():
    payloads = json_payloads(["a", "b"], tokens=[3, 4], flops=[1.0, 2.0])
    assert payloads[1].body == b'{"text": "b"}'
    assert (payloads[1].tokens, payloads[1].flops) == (4, 2.0)
    assert _rotate([1, 2, 3], 0) == [1, 2, 3]
    assert sorted(_rotate(list(range(1000)), 1)) == list(range(1000))


def test_closed_loop_against_a_local_server_is_bounded_and_counts_errors():
    web = pytest.importorskip("aiohttp.web")

    async def handle(request):
        body = await request.json()
        if body["text"] == "slow":
            await asyncio.sleep(1)
        return web.json_response({"ok": True}, status=500 if body["text"] == "bad" else 200)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_post("/p", handle)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/p"
        result = run_load(url, json_payloads(["good", "good", "good", "bad"]), 3, max_requests=40, max_seconds=10)
        slow = run_load(url, json_payloads(["slow"]), 2, max_seconds=0.1, drain_seconds=0.3)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
    assert result.requests == 30
    assert result.errors == Counter({"500": 10})
    assert len(result.latencies) == 30
    assert result.texts_per_second > 0
    assert (slow.requests, slow.unfinished, slow.error_count) == (0, 2, 0)
    assert slow.seconds < 0.9


# --- the runner's helpers ----------------------------------------------------------------------------------


def test_archive_variants_change_only_their_keys():
    shipped = {"minWorkers": 1, "maxWorkers": 1, "batchSize": 16, "maxBatchDelay": 5, "handler": {"precision": "auto"}}
    configs = archive_configs(shipped, cores=2)
    assert configs["shipped"] == shipped
    assert configs["ts-defaults"]["batchSize"] == 1
    assert configs["ts-defaults"]["handler"] == {"precision": "auto", "torch_threads": 2}
    one = configs["one-worker"]
    assert (one["minWorkers"], one["maxWorkers"], one["batchSize"]) == (1, 1, ONE_WORKER_BATCH_SIZE)
    assert one["maxBatchDelay"] == 5
    assert one["handler"] == {"precision": "auto", "torch_threads": 0}
    assert shipped["handler"] == {"precision": "auto"}  # not mutated


def test_variant_catalog_and_selection():
    plan = Plan()
    chosen = variants(plan, bf16=False, cores=2)
    assert "bf16" not in [v.name for v in chosen]  # no native bf16: no bf16 variants
    assert [v.name for v in variants(plan, True, 2, ["bf16", "fp32"])] == ["bf16", "fp32"]
    defaults = catalog(2, plan)["ts-defaults"]
    assert defaults.workloads == ("short", "mixed")
    assert defaults.torchserve_jvm
    assert catalog(2, plan)["ts-jvm-fp32"].torchserve_jvm
    assert not catalog(2, plan)["fp32"].torchserve_jvm
    assert max(defaults.concurrencies) == plan.headline_concurrency
    with pytest.raises(SystemExit, match="unknown variant"):
        variants(plan, True, 2, ["nope"])


def test_worker_facts_from_the_model_log():
    log = "loaded model from /x on cpu: labels=a,b dtype=bfloat16 torch_threads=2 settings=Settings(...)\n" * 2
    assert _worker_facts(log) == {"dtype": "bfloat16", "torch_threads": 2, "workers_logged": 2}
    assert _worker_facts("nothing") == {}


# --- report ------------------------------------------------------------------------------------------------


def served(variant: str, workload: str, concurrency: int, rate: float) -> dict:
    return {
        "variant": variant,
        "workload": workload,
        "concurrency": concurrency,
        "texts_per_second": rate,
        "requests_per_second": rate,
        "flops_per_second": rate * 1e8,
        "p50": 0.01,
        "p90": 0.02,
        "p99": 0.03,
        "errors": 0,
        "error_kinds": {},
        "requests": 100,
        "runs": 3,
        "client_cpu": 0.3,
        "foreign_cores": 0.0,
    }


def results() -> dict:
    ceiling = [
        as_dicts([CeilingPoint(w, p, "2x1", 16, "sorted", rate, rate * 1e8, 3)])[0]
        for w, p, rate in [("short", "fp32", 100.0), ("mixed", "fp32", 50.0), ("short", "bf16", 200.0),
                           ("mixed", "bf16", 100.0)]
    ]  # fmt: skip
    return {
        "command": "python -m bench --out docs",
        "started": "2026-01-01T00:00:00+00:00",
        "duration_seconds": 480.0,
        "quick": False,
        "plan": {"load_seconds": 1.5, "repeats": 3, "load_max_requests": 3000, "ceiling_samples": [["short", 960]]},
        "machine": {"cpu": "Test CPU", "usable_cores": 2, "native_bf16": True, "avx512_bf16": True},
        "peaks": {"fp32": 1e11, "bf16": 2e11, "size": 2048, "threads": 2},
        "model": {"shipped_config": {"batchSize": 16, "maxBatchDelay": 5}, "settings": {}},
        "phases": {"peaks": 3.0},
        "accuracy": {"source": "split.json: 2 held-out articles", "delta_points": -0.2, "agreement": 0.99,
                     "max_score_difference": 0.01,
                     "results": [{"precision": "fp32", "dtype": "float32", "correct": 1, "total": 2, "accuracy": 0.5,
                                  "seconds": 1.0},
                                 {"precision": "bf16", "dtype": "bfloat16", "correct": 1, "total": 2, "accuracy": 0.5,
                                  "seconds": 0.5}]},
        "ceiling": ceiling,
        "variants": [{"name": "fp32", "description": "shipped", "env": {"BERT_CLASSIFIER_PRECISION": "fp32"},
                      "start_to_ready_seconds": 7.5, "dtype": "float32"},
                     {"name": "bf16", "description": "shipped", "env": {"BERT_CLASSIFIER_PRECISION": "bf16"},
                      "start_to_ready_seconds": 20.0, "dtype": "bfloat16"}],
        "served": [served("fp32", "short", 16, 90.0), served("fp32", "mixed", 16, 40.0),
                   served("bf16", "short", 16, 180.0), served("bf16", "mixed", 16, 90.0),
                   served("fp32", "short", 1, 20.0)],
        "sweep": [{"variant": "fp32", "batch_size": 32, "max_batch_delay": 5, "workload": "mixed", "concurrency": 16,
                   "texts_per_second": 45.0, "p50": 0.1, "p99": 0.2, "errors": 0}],
    }  # fmt: skip


def test_ratios():
    data = results()
    assert served_over_ceiling(data, "fp32", "short", 16) == pytest.approx(0.9)
    assert served_over_ceiling(data, "bf16", "mixed", 16) == pytest.approx(0.9)
    assert speedup(data, "bf16", "fp32", "mixed", 16) == pytest.approx(2.25)
    assert served_over_ceiling(data, "fp32", "long", 16) is None


def test_markdown_report_quotes_the_command_ratios_and_verdicts():
    text = render_markdown(results())
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
    assert "-0.20 points" in text
    assert "![throughput and p99 latency against concurrency](bench.png)" in text
    assert "no measurement was disturbed" in text


def test_report_flags_disturbed_measurements_and_survives_missing_parts():
    data = results()
    data["served"][0]["foreign_cores"] = 0.9
    assert "disturbed measurements" in render_markdown(data)
    minimal = render_markdown({"command": "python -m bench --quick", "quick": True, "duration_seconds": 60})
    assert "quick smoke run" in minimal
    assert "not measured" in minimal


def test_write_report_writes_markdown_and_png(tmp_path):
    pytest.importorskip("matplotlib")
    paths = write_report(results(), tmp_path)
    assert [p.name for p in paths] == ["bench.md", "bench.png"]
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
