"""Prometheus metrics on the metrics port: TorchServe's request counters plus the handler's own metrics, and the
shipped Grafana dashboard's queries against what the server really exports."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import requests

from bert_classifier.messages import BatchOutcome
from bert_classifier.metrics import batch_metrics
from bert_classifier.model import BatchStats
from tools.server import ROOT, wait_for

pytestmark = pytest.mark.integration

PROMQL_WORDS = {"sum", "by", "rate", "or", "vector"}
SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def handler_metric_names() -> set[str]:
    outcome = BatchOutcome([], BatchStats(texts=1), Counter({"InvalidInput": 1}))
    return {metric.name for metric in batch_metrics(1, outcome)}


def exported(metrics_url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample on /metrics: name -> [(labels, value)]."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in requests.get(f"{metrics_url}/metrics", timeout=10).text.splitlines():
        match = SAMPLE.match(line.strip())
        if match:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            samples.setdefault(match["name"], []).append((labels, float(match["value"])))
    return samples


def scrape_until_exported(server, names: set[str]) -> dict:
    """/metrics once every name in `names` is on it (TorchServe exports a metric after its first update)."""

    def samples_with_all_names():
        samples = exported(server.metrics_url)
        return samples if names <= set(samples) else None

    return wait_for(samples_with_all_names, 30, f"{sorted(names)} on /metrics")


def value(samples, name: str, **labels: str) -> float:
    return sum(v for found, v in samples.get(name, []) if labels.items() <= found.items())


def send_traffic(server, predict) -> None:
    """A 200 with a truncated text, a handler 400 and a frontend 500 (a form value with a stray '%')."""
    assert predict(json={"data": ["metrics please", "a longer text " * 200]}).status_code == 200
    assert predict(json={"data": [7]}).status_code == 400
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert predict(b"text=50% off", headers=form).status_code == 500


GROWTH = [
    ("bert_request_errors_total", {"ErrorType": "InvalidInput"}, 1),  # the 400, by type
    ("bert_texts_total", {}, 2),
    ("bert_truncated_texts_total", {}, 1),
    ("Requests5XX", {}, 1),
]
"""What `send_traffic` adds to each counter, at least."""


def test_handler_and_torchserve_metrics_appear_on_metrics_endpoint_after_traffic(server, predict):
    before = exported(server.metrics_url)
    send_traffic(server, predict)
    scrape_until_exported(server, handler_metric_names())

    def grown() -> dict | None:
        # The handler releases its counters at most once a second (MetricsBuffer): poll until they include ours.
        samples = exported(server.metrics_url)
        return samples if all(_growth(samples, before, name, labels) >= n for name, labels, n in GROWTH) else None

    samples = wait_for(grown, 30, f"growth of {[name for name, _, _ in GROWTH]} on /metrics")
    assert value(samples, "ts_inference_requests_total", model_name="tiny") >= 3


def _growth(samples: dict, before: dict, name: str, labels: dict) -> float:
    return value(samples, name, **labels) - value(before, name, **labels)


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def names_and_grouping(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, `by (...)` labels) of a PromQL expression of the dashboard's simple forms."""
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors: [1m]
    groups = re.findall(r"\bby\s*\(([^)]*)\)", expr)
    labels = {label.strip() for group in groups for label in group.split(",") if label.strip()}
    names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"\bby\s*\([^)]*\)", "", expr))) - PROMQL_WORDS
    return names, labels


def test_every_dashboard_query_uses_metrics_and_labels_the_server_exports(server, predict):
    send_traffic(server, predict)
    queries = dashboard_queries()
    wanted = set().union(*(names_and_grouping(expr)[0] for _, expr in queries))
    samples = scrape_until_exported(server, wanted)
    for title, expr in queries:
        names, grouping = names_and_grouping(expr)
        for name in names:
            label_names = set().union(*(labels.keys() for labels, _ in samples[name]))
            assert grouping <= label_names, f"{title}: {name} has labels {label_names}, grouped by {grouping}"
    errors_panel = " ".join(expr for title, expr in queries if "4xx" in title)
    assert "Requests4XX" in errors_panel
    assert "Requests5XX" in errors_panel
