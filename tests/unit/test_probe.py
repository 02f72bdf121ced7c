"""`engines.probe`: each candidate warmed up once, then timed in turns; the fastest best round wins."""

from __future__ import annotations

import pytest

from bert_classifier.engines.probe import PROBE_TEXTS, ProbeResult, fastest, run_probe

pytestmark = pytest.mark.unit


class FakeClock:
    """Time passes only when a candidate runs: each takes its own fixed cost, plus noise on some rounds."""

    def __init__(self, costs: dict[str, list[float]]) -> None:
        self.now = 0.0
        self.costs = {name: list(values) for name, values in costs.items()}
        self.calls: list[str] = []

    def __call__(self) -> float:
        return self.now

    def run(self, name: str) -> None:
        self.calls.append(name)
        self.now += self.costs[name].pop(0)


def test_the_fastest_best_round_wins_despite_one_slow_round():
    clock = FakeClock({"torch-fp32": [90, 30, 31, 32], "onnxruntime-int8": [90, 50, 10, 11]})
    results = run_probe(["torch-fp32", "onnxruntime-int8"], clock.run, rounds=3, clock=clock)
    assert [r.seconds for r in results] == [(30, 31, 32), (50, 10, 11)]
    assert fastest(results).candidate == "onnxruntime-int8"


def test_candidates_are_warmed_up_untimed_then_timed_in_turns():
    clock = FakeClock({"a": [100, 1, 1], "b": [100, 2, 2]})
    results = run_probe(["a", "b"], clock.run, rounds=2, clock=clock)
    assert clock.calls == ["a", "b", "a", "b", "a", "b"]
    assert all(max(r.seconds) < 100 for r in results)  # the warm-up is not counted


def test_a_tie_keeps_the_earlier_candidate():
    results = [ProbeResult("torch-fp32", (2.0, 3.0)), ProbeResult("onnxruntime-fp32", (2.0, 2.0))]
    assert fastest(results).candidate == "torch-fp32"


def test_the_probe_texts_hold_headlines_and_one_article_length_text():
    lengths = sorted(len(text.split()) for text in PROBE_TEXTS)
    assert lengths[-1] > 100 > lengths[-2]
