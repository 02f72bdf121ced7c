"""training.choices: the candidates are valid runs, and the report shows what was measured."""

from __future__ import annotations

import pytest

from training.choices import BASE, CANDIDATES, CHOSEN, Cost, render
from training.loop import DEFAULTS

pytestmark = pytest.mark.unit


def test_the_candidates_hold_the_setting_before_and_the_default_and_every_candidate_differs():
    assert next(iter(CANDIDATES.values())) == BASE
    assert CHOSEN in CANDIDATES.values()
    assert CHOSEN == DEFAULTS
    assert len(set(CANDIDATES.values())) == len(CANDIDATES)
    assert all(0 <= params.frozen_layers <= 6 for params in CANDIDATES.values())


def test_cost_adds_the_frozen_pass_to_the_steps():
    assert Cost("AVX2", lower_pass_seconds=20.0, step_seconds=0.5, steps=100).total_seconds == 70.0


def test_render_shows_each_measurement_and_marks_the_missing_ones():
    results = {
        "a": {"hyperparameters": {"epochs": 2}, "accuracy": {"held_out": 0.98204, "served": 0.985},
              "cost": {"AVX2": {"total_seconds": 545.2}, "AVX512": {"total_seconds": 300.0}}},
        "b": {"hyperparameters": {"epochs": 1}, "cost": {"AVX2": {"total_seconds": 60.4}}},
        "c": {"hyperparameters": {}, "accuracy": {"held_out": 0.5, "served": 0.5, "source": "an older card"}},
    }  # fmt: skip
    text = render(results)
    assert (
        "| candidate | held-out (training length) | held-out served (fp32, 256 tokens) | CPU-s, 1 thread, AVX2 |"
        in text
    )
    assert "| a | 98.2% | 98.5% | 545 | 300 |" in text
    assert "| b | – | – | 60 | – |" in text
    assert '- b: `{"epochs": 1}`' in text
    assert "c: accuracy from an older card, not measured again." in text
