"""bench.server_metrics: reading TorchServe's Prometheus counters and the workers' start-up log lines."""

from __future__ import annotations

import pytest

from bench.server_metrics import parse_counters, server_stats, worker_facts

pytestmark = pytest.mark.unit

EXPORT = """# HELP bert_batches_total Batches
bert_batches_total{ModelName="bert",Level="Model",Hostname="h"} 4.0
bert_batches_total{ModelName="bert",Level="Model",Hostname="other"} 6.0
bert_batches_total{ModelName="sweep_b4_d5",Level="Model",Hostname="h"} 100.0
bert_texts_total{ModelName="bert",Level="Model",Hostname="h"} 80.0
ts_inference_requests_total{model_name="bert",model_version="default",hostname="h"} 80.0
ts_inference_latency_microseconds{model_name="bert",model_version="default",hostname="h"} 400000.0
unrelated_total{ModelName="bert"} 1.0
bert_tokens_total{ModelName="bert"} not-a-number
"""


def test_counters_are_summed_per_model_and_others_ignored():
    assert parse_counters(EXPORT, "bert") == {
        "bert_batches_total": 10.0,
        "bert_texts_total": 80.0,
        "ts_inference_requests_total": 80.0,
        "ts_inference_latency_microseconds": 400000.0,
    }
    assert parse_counters(EXPORT, "sweep_b4_d5") == {"bert_batches_total": 100.0}


def test_server_stats_from_the_growth_of_the_counters():
    before = {"bert_batches_total": 10.0, "bert_texts_total": 80.0, "bert_model_milliseconds_total": 0.0}
    after = {
        "bert_batches_total": 20.0,
        "bert_texts_total": 160.0,
        "bert_model_milliseconds_total": 1500.0,
        "bert_tokens_total": 1000.0,
        "bert_padded_tokens_total": 1250.0,
        "ts_inference_requests_total": 80.0,
        "ts_inference_latency_microseconds": 400000.0,
    }
    stats = server_stats(before, after, seconds=1.0, workers=2)
    assert stats.texts_per_batch == 8.0
    assert stats.model_ms_per_batch == 150.0
    assert stats.padding == 1.25
    assert stats.model_busy == 0.75  # 1.5 s of forward over 2 workers × 1 s
    assert stats.tokenize_busy is None  # not exported: unknown, not zero
    assert stats.server_ms == 5.0
    assert stats.queue_ms == 0.0  # requests counted, no queue time exported yet: nothing queued


def test_server_stats_without_counters_are_unknown():
    stats = server_stats({}, {}, seconds=1.0, workers=1)
    assert (stats.texts_per_batch, stats.padding, stats.model_busy, stats.server_ms) == (None, None, None, None)


def test_worker_facts_from_the_model_log():
    log = "loaded model from /x on cpu: labels=a,b dtype=bfloat16 torch_threads=2 settings=Settings(...)\n" * 2
    assert worker_facts(log) == {"dtype": "bfloat16", "torch_threads": 2, "workers_logged": 2}
    assert worker_facts("nothing") == {}


def test_worker_facts_name_the_probing_workers_figures_not_the_reader_of_its_record():
    line = "loaded model from /x on cpu: labels=a engine={e} dtype={d} torch_threads=1 forward=padded chosen by {how} cpu=avx2 settings=S\n"  # noqa: E501
    probed = line.format(e="onnxruntime", d="int8", how="probe (3 rounds; onnxruntime-int8 0.40 = 1/2/3 ms)")
    read = line.format(e="onnxruntime", d="int8", how="this host's recorded probe (3 rounds; ...)")
    facts = worker_facts(probed + read)
    assert facts["chosen_by"] == "probe (3 rounds; onnxruntime-int8 0.40 = 1/2/3 ms)"
    assert (facts["engine"], facts["dtype"], facts["cpu_isa"]) == ("onnxruntime", "int8", "avx2")
    assert worker_facts(read)["chosen_by"].startswith("this host's recorded probe")
