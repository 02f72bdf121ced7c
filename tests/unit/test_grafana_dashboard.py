"""The shipped Grafana dashboard only queries metrics the server actually exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PROMQL_WORDS = {"sum", "by", "rate", "or", "vector", "model_name", "ModelName", "ErrorType"}


def declared_metric_names() -> set[str]:
    config = yaml.safe_load((ROOT / "metrics.yaml").read_text())
    return {
        entry["name"]
        for section in ("ts_metrics", "model_metrics")
        for kind in config[section].values()
        for entry in kind
    }


def test_every_panel_queries_only_declared_metrics():
    dashboard = json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text())
    declared = declared_metric_names()
    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", re.sub(r"\[[^\]]*\]", "", target["expr"])))
            unknown = names - PROMQL_WORDS - declared
            assert not unknown, f"{panel['title']}: {unknown}"
