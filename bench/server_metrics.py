"""What the server itself says about a run: its Prometheus counters, and what each worker logged at start-up."""

from __future__ import annotations

import re

from .records import ServerStats

COUNTERS = (
    "bert_batches_total", "bert_texts_total", "bert_tokens_total", "bert_padded_tokens_total",
    "bert_model_milliseconds_total", "bert_tokenize_milliseconds_total", "ts_inference_requests_total",
    "ts_inference_latency_microseconds", "ts_queue_latency_microseconds",
)  # fmt: skip
"""The counters `server_stats` reads (declared in metrics.yaml, or TorchServe's own)."""


def scrape(metrics_url: str, model: str) -> dict[str, float]:
    """The model's counters from TorchServe's Prometheus endpoint (empty if it is not there)."""
    import requests

    try:
        text = requests.get(f"{metrics_url}/metrics", timeout=10).text
    except requests.RequestException:
        return {}
    return parse_counters(text, model)


def parse_counters(text: str, model: str) -> dict[str, float]:
    """`COUNTERS` of `model` in Prometheus text, summed over their other labels."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        name, _, rest = line.partition("{")
        if name in COUNTERS and (f'ModelName="{model}"' in rest or f'model_name="{model}"' in rest):
            try:
                values[name] = values.get(name, 0.0) + float(rest.rsplit(" ", 1)[-1])
            except ValueError:
                continue
    return values


def server_stats(before: dict[str, float], after: dict[str, float], seconds: float, workers: int) -> ServerStats:
    """Per-run facts from the counters' growth over `seconds`: texts per batch, padding, how busy the model was,
    and where a request's time went on the server (queue vs worker)."""
    delta = {key: after[key] - before.get(key, 0.0) for key in after}
    batches, tokens = delta.get("bert_batches_total"), delta.get("bert_tokens_total")
    requests = delta.get("ts_inference_requests_total")
    worker_seconds = seconds * max(1, workers)

    def per(key: str, divisor: float | None, scale: float = 1.0) -> float | None:
        # A counter missing while its divisor counted has counted nothing yet.
        return delta.get(key, 0.0) / divisor / scale if divisor else None

    def busy(key: str) -> float | None:
        return per(key, worker_seconds, 1000) if key in delta else None

    return ServerStats(
        texts_per_batch=per("bert_texts_total", batches),
        model_ms_per_batch=per("bert_model_milliseconds_total", batches),
        padding=per("bert_padded_tokens_total", tokens),
        model_busy=busy("bert_model_milliseconds_total"),
        tokenize_busy=busy("bert_tokenize_milliseconds_total"),
        server_ms=per("ts_inference_latency_microseconds", requests, 1000),
        queue_ms=per("ts_queue_latency_microseconds", requests, 1000),
    )


def worker_facts(model_log: str) -> dict:
    """What the handler logged at load (the last worker's): the engine, dtype and torch threads, how `auto`
    chose (the probe's figures) and the CPU flags."""
    found = re.findall(r"dtype=(\w+)\s+torch_threads=(\d+)", model_log)
    if not found:
        return {}
    facts = {"dtype": found[-1][0], "torch_threads": int(found[-1][1]), "workers_logged": len(found)}
    chosen = re.findall(r"engine=(\w+) dtype=\w+ .* chosen by (.*?\)|settings \(one candidate\)) cpu=(.*?) settings=",
                        model_log)  # fmt: skip
    if chosen:  # the probing worker's line says what the choice was made on; the others read its record
        engine, how, isa = next((c for c in chosen if c[1].startswith("probe (")), chosen[-1])
        facts |= {"engine": engine, "chosen_by": how, "cpu_isa": isa}
    return facts
