"""Prometheus metrics on the metrics port: TorchServe's request counters plus the handler's own metrics."""

from __future__ import annotations

import re

import pytest
import requests
import yaml

from bert_classifier.metrics import batch_metrics
from bert_classifier.model import BatchStats
from bert_classifier.service import BatchOutcome
from tools.server import ROOT, wait_for

pytestmark = pytest.mark.integration


def metric_names_after_traffic() -> set[str]:
    from collections import Counter

    outcome = BatchOutcome([], BatchStats(texts=1), Counter({"InvalidInput": 1}))
    return {metric.name for metric in batch_metrics(1, outcome)}


def test_every_handler_metric_is_declared_in_the_shipped_metrics_config():
    declared = yaml.safe_load((ROOT / "metrics.yaml").read_text())["model_metrics"]
    names = {entry["name"] for kind in declared.values() for entry in kind}
    assert metric_names_after_traffic() <= names


def test_handler_and_torchserve_metrics_appear_on_metrics_endpoint_after_traffic(server, predict):
    assert predict(json={"data": ["metrics please", "a second, longer text for padding"]}).status_code == 200
    assert predict(json={"data": [7]}).status_code == 400

    def scrape():
        text = requests.get(f"{server.metrics_url}/metrics", timeout=10).text
        present = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if not line.startswith("#")}
        return text if metric_names_after_traffic() <= present else None

    text = wait_for(scrape, 30, "handler metrics on /metrics")
    assert "ts_inference_requests_total" in text
    errors = re.search(r'bert_request_errors_total\{[^}]*ErrorType="InvalidInput"[^}]*\} ([0-9.]+)', text)
    assert errors, "no InvalidInput error counter"
    assert float(errors.group(1)) >= 1
    texts = re.search(r'bert_texts_total\{[^}]*ModelName="tiny"[^}]*\} ([0-9.]+)', text)
    assert texts, "no text counter for the tiny model"
    assert float(texts.group(1)) >= 2
