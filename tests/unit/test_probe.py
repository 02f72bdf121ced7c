"""`engines.probe`: candidates warmed up, then timed in turns on traffic-shaped work until the winner is stable; a
candidate wins only by more than the measured noise, and a tie goes to the faster on a batch of headlines."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from bert_classifier.engines import probe
from bert_classifier.engines.probe import ProbeResult, decide, run_probe, traffic_shapes

pytestmark = pytest.mark.unit

SHAPES = traffic_shapes(8)


class FakeHost:
    """A clock that moves only when a candidate runs: `cost[candidate][shape]` per call, times a per-call factor
    from `noise` (cycled), so interference can be injected."""

    def __init__(self, cost: dict[str, dict[str, float]], noise=(1.0,)) -> None:
        self.now = 0.0
        self.cost = cost
        self.noise = itertools.cycle(noise)
        self.calls: list[tuple[str, str]] = []

    def __call__(self) -> float:
        return self.now

    def run(self, candidate: str, texts) -> None:
        shape = next(s.name for s in SHAPES if s.texts == tuple(texts))
        self.calls.append((candidate, shape))
        self.now += self.cost[candidate][shape] * next(self.noise)


def costs(batch: float, one: float, long: float) -> dict[str, float]:
    """Seconds per call of each shape, given in milliseconds."""
    return dict(zip([s.name for s in SHAPES], (batch / 1000, one / 1000, long / 1000), strict=True))


def result(name: str, batch, one, long) -> ProbeResult:
    """Rounds as given per shape (each a tuple)."""
    return ProbeResult(name, dict(zip([s.name for s in SHAPES], (batch, one, long), strict=True)))


def test_the_shapes_are_a_full_batch_of_headlines_one_headline_and_one_article_longer_than_max_length():
    batch, alone, long = traffic_shapes(8)
    assert (batch.name, len(batch.texts), alone.name, len(alone.texts), long.name) == ("8 short", 8, "1 short", 1,
                                                                                        "1 long")  # fmt: skip
    assert max(len(t.split()) for t in batch.texts) < 20 < 200 < len(long.texts[0].split())
    assert [s.name for s in traffic_shapes(1)] == ["1 short", "1 long"]


def test_the_score_weighs_each_shape_alike_so_a_long_text_does_not_drown_the_short_ones():
    """The case a single timed round of mixed texts got wrong: bf16 as fast on the long text, int8 far faster on
    headlines. Summed time would call them even; per-shape ratios choose int8."""
    fp32 = result("torch-fp32", (20.0,) * 3, (3.0,) * 3, (30.0,) * 3)
    bf16 = result("torch-bf16", (14.0,) * 3, (2.4,) * 3, (15.0,) * 3)
    int8 = result("onnxruntime-int8", (9.0,) * 3, (1.5,) * 3, (20.0,) * 3)
    decision = decide([fp32, bf16, int8])
    assert decision.chosen.candidate == "onnxruntime-int8"
    assert not decision.tied
    assert decision.scores[0] == 1.0


def test_a_lead_within_the_measured_noise_is_a_tie_that_the_faster_on_the_headline_batch_wins():
    fp32 = result("torch-fp32", (10.0,) * 3, (1.0,) * 3, (10.0,) * 3)
    noisy = result("torch-bf16", (11.0,) * 3, (0.8, 1.2, 0.9), (5.0, 12.0, 7.0))  # 0.89 of fp32, ±23% noise
    decision = decide([fp32, noisy])
    assert decision.tied
    assert decision.scores[1] == pytest.approx(0.885, abs=1e-3)
    assert decision.chosen.candidate == "torch-fp32"  # faster on the batch of headlines
    quiet = result("torch-bf16", (11.0,) * 3, (0.9,) * 3, (6.0,) * 3)  # 0.84 of fp32 in every round
    assert decide([fp32, quiet]).chosen.candidate == "torch-bf16"  # a lead beyond the noise wins


def test_a_burst_that_slows_a_whole_round_does_not_change_the_scores():
    """Rounds are compared candidate against reference within the round: a round where everything ran twice as
    slowly (another process took the core) scores as the quiet ones."""
    fp32 = result("torch-fp32", (10.0, 20.0, 10.0), (1.0, 2.0, 1.0), (10.0, 20.0, 10.0))
    int8 = result("onnxruntime-int8", (5.0, 10.0, 5.0), (0.5, 1.0, 0.5), (8.0, 16.0, 8.0))
    decision = decide([fp32, int8])
    assert decision.noise == (0.0, 0.0)
    assert (decision.chosen.candidate, decision.tied) == ("onnxruntime-int8", False)


def test_a_lead_under_the_minimum_margin_is_never_a_win():
    first = result("a", (10.0,) * 3, (1.0,) * 3, (10.0,) * 3)
    second = result("b", (9.9,) * 3, (0.99,) * 3, (9.9,) * 3)  # 1% faster everywhere, no noise
    decision = decide([first, second])
    assert decision.tied
    assert decision.chosen.candidate == "b"  # the tie still goes to the faster on the headline batch


def test_candidates_are_warmed_up_on_every_shape_then_timed_in_turns_each_round_starting_elsewhere():
    host = FakeHost({"a": costs(10, 1, 10), "b": costs(5, 1, 5)})
    run_probe(["a", "b"], host.run, SHAPES, clock=host)
    warm, timed = host.calls[:6], host.calls[6:]
    assert warm == [(c, s.name) for c in "ab" for s in SHAPES]
    firsts = [timed[i][0] for i in range(0, len(timed), 6)]
    assert firsts == ["a", "b", "a"]


def test_rounds_stop_once_the_same_winner_held_for_the_stable_rounds():
    host = FakeHost({"a": costs(10, 1, 10), "b": costs(5, 1, 5)})
    results = run_probe(["a", "b"], host.run, SHAPES, clock=host)
    assert len(results[0].seconds["8 short"]) == max(probe.MIN_ROUNDS, probe.STABLE_ROUNDS)


def test_the_budget_ends_a_probe_whose_winner_keeps_changing(monkeypatch):
    """A winner that changes every round never settles: the probe stops at the budget (after `MIN_ROUNDS`), not
    at `MAX_ROUNDS`."""
    decided = itertools.count()
    real_decide = probe.decide

    def alternating(results):
        decision = real_decide(results)
        return dataclasses.replace(decision, chosen=results[next(decided) % 2])

    monkeypatch.setattr(probe, "decide", alternating)
    host = FakeHost({"a": costs(10, 1, 10), "b": costs(10, 1, 10)})
    results = run_probe(["a", "b"], host.run, SHAPES, clock=host, budget_seconds=0.2)
    rounds = len(results[0].seconds["8 short"])
    assert probe.MIN_ROUNDS < rounds < probe.MAX_ROUNDS
    timed = sum(sum(sum(t) for t in r.seconds.values()) for r in results)
    assert 0.2 < timed <= 0.2 + 2 * 0.021  # the budget plus at most one round
    host = FakeHost({"a": costs(10, 1, 10), "b": costs(10, 1, 10)})
    no_budget = run_probe(["a", "b"], host.run, SHAPES, clock=host, budget_seconds=0.0)
    assert len(no_budget[0].seconds["8 short"]) == probe.MIN_ROUNDS  # never fewer rounds than that


def test_the_same_costs_under_different_interference_choose_the_same_variant():
    """Stability: int8 is 30% faster on headlines and 10% slower on the long text than bf16; whatever the noise
    pattern, the choice is the same."""
    cost = {"torch-fp32": costs(20, 3, 30), "torch-bf16": costs(13, 2, 14), "onnxruntime-int8": costs(9, 1.4, 15.5)}
    chosen = set()
    for noise in [(1.0,), (1.0, 1.2, 1.0, 1.0, 1.4), (1.3, 1.0, 1.1), (1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 1.0)]:
        host = FakeHost(cost, noise)
        chosen.add(decide(run_probe(list(cost), host.run, SHAPES, clock=host)).chosen.candidate)
    assert chosen == {"onnxruntime-int8"}
