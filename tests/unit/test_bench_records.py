"""bench.records: a run's results survive the trip through bench-results.json unchanged."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bench.plan import QUICK
from bench.records import Results
from tests.unit.bench_results import sample_results

pytestmark = pytest.mark.unit


def test_results_round_trip_through_json(tmp_path):
    results = sample_results()
    loaded = Results.load(results.save(tmp_path / "bench-results.json"))
    assert loaded == results
    assert loaded.plan.ceiling_grid == results.plan.ceiling_grid  # tuples again, not lists
    assert loaded.accuracy.delta_points == 0.0


def test_json_carries_the_derived_accuracy_numbers_for_readers():
    data = json.loads(sample_results().to_json())
    assert data["accuracy"]["results"][0]["accuracy"] == 0.5
    assert "delta_points" in data["accuracy"]
    assert data["served"][0]["measured"]["server"]["texts_per_batch"] == 7.5


def test_a_minimal_run_loads_with_defaults():
    data = json.loads(sample_results().to_json())
    for key in ("peaks", "accuracy", "ceiling", "variants", "served", "sweep", "workloads", "archives"):
        data.pop(key)
    data["plan"] = dataclasses.asdict(QUICK)
    loaded = Results.from_dict(data)
    assert (loaded.peaks, loaded.accuracy, loaded.served) == (None, None, [])
    assert loaded.plan == QUICK


def test_paired_rounds_round_trip_and_derive_their_ratio_and_cost_outside_the_model(tmp_path):
    from bench.processes import RequestCost
    from bench.records import PairedRound

    results = sample_results()
    cost = RequestCost(0.1, [0.9, 1.0], 0.2)
    results.paired = [PairedRound("auto", "short", 1, "onnxruntime-int8", [400.0, 600.0], [0.5, 0.7], 300.0, 2.0, cost)]
    loaded = Results.load(results.save(tmp_path / "bench-results.json"))
    assert loaded == results
    assert loaded.paired[0].ratio == pytest.approx(0.6)  # over the mean of the ceiling before and after
    assert loaded.paired[0].outside_model_ms == pytest.approx(2.0 - 0.6 * 2.0)
