"""`engine: auto`: time each candidate variant on texts shaped like the traffic and keep the one that serves fastest.

The probe runs on the host that serves, so the choice follows that CPU: its ISA (AVX2, AVX-512, VNNI, bf16, AMX),
its threads and its caches. It times three shapes of work: one headline (a request alone in its batch), a full
batch of headlines (`batchSize` of the model-config) and one article at `max_length`. Candidates run in turns,
each round starting with another candidate, so a burst of load from another process slows all of them alike.

A round's score of a candidate is the geometric mean over the shapes of its time relative to the first candidate's
(torch fp32) in the same round, so a long text does not drown the short ones and a burst of load that slows a
whole round cancels out; its score is the median of its rounds'. Its noise is the interquartile range of its round
scores over their median. A candidate beats another only by more than the larger noise of the two (and never by
less than `MIN_MARGIN`); candidates that do not beat each other tie, and a tie goes to the faster on the first
shape, a batch of headlines: the common request. Rounds repeat until the same candidate has won `STABLE_ROUNDS`
times in a row, or the time budget ends.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

E = TypeVar("E")

MIN_ROUNDS = 3
STABLE_ROUNDS = 3
"""The same winner this many rounds in a row (after `MIN_ROUNDS`) ends the probe."""
MAX_ROUNDS = 40
BUDGET_SECONDS = 4.0
"""Timed rounds stop once the probe has run this long (the warm-up excluded) and `MIN_ROUNDS` are done, even if the
winner still changes."""
MIN_MARGIN = 0.03
"""A candidate must be at least 3% faster than another to beat it, whatever the measured noise."""

HEADLINES = (
    "Shares in the chip maker rose after strong quarterly earnings.",
    "Striker scores twice as the leaders stretch their lead.",
    "Minister defends plans for the new education bill.",
    "Film festival opens with a record number of premieres.",
    "New phone promises a battery that lasts all week.",
    "Central bank holds interest rates for a third month.",
    "Band announces a farewell tour after twenty years.",
    "Broadband prices fall as competition grows.",
)
ARTICLE = " ".join(
    [
        "The company said on Tuesday that sales in the last three months of the year had risen faster than",
        "analysts had expected, helped by demand for its new range of products in Europe and Asia, and that it",
        "would raise its dividend. Its shares closed higher in London, while the wider market was flat.",
    ]
    * 5
)
"""About 300 tokens: longer than the default `max_length`, so it is timed as served, truncated."""


@dataclass(frozen=True)
class Shape:
    """One kind of work the probe times: `texts` classified in one call."""

    name: str
    texts: tuple[str, ...]


def traffic_shapes(batch_size: int) -> tuple[Shape, ...]:
    """A batch of `batch_size` headlines (the model-config's `batchSize`; first, as it breaks ties), one headline
    alone, one long article."""
    size = max(batch_size, 1)
    batch = Shape(f"{size} short", tuple(HEADLINES[i % len(HEADLINES)] for i in range(size)))
    alone = [Shape("1 short", HEADLINES[:1])] if size > 1 else []
    return (batch, *alone, Shape("1 long", (ARTICLE,)))


@dataclass(frozen=True)
class ProbeResult(Generic[E]):
    candidate: E
    seconds: dict[str, tuple[float, ...]]
    """Per shape name, one time per timed round."""

    def best(self, shape: str) -> float:
        return min(self.seconds[shape])


@dataclass(frozen=True)
class Decision(Generic[E]):
    chosen: ProbeResult[E]
    scores: tuple[float, ...]
    """Per result, in order: its median over the rounds of the round's score against the first result."""
    noise: tuple[float, ...]
    """Per result, in order: the interquartile range of its round scores over their median."""
    tied: bool
    """True when the chosen one did not beat every other candidate by more than the noise, and won on the first
    shape."""


def run_probe(
    candidates: Sequence[E],
    run: Callable[[E, Sequence[str]], object],
    shapes: Sequence[Shape],
    clock: Callable[[], float] = time.perf_counter,
    budget_seconds: float = BUDGET_SECONDS,
) -> list[ProbeResult[E]]:
    """Warm each candidate up on every shape (lazy initialisation is not what serving pays), then time rounds of
    `run(candidate, texts)` over every shape, the candidates in turns, until the winner is stable or the budget
    ends."""
    for candidate in candidates:
        for shape in shapes:
            run(candidate, shape.texts)
    seconds = [{shape.name: [] for shape in shapes} for _ in candidates]
    started, winners = clock(), []
    for round_index in range(MAX_ROUNDS):
        for offset in range(len(candidates)):  # each round starts with another candidate
            index = (round_index + offset) % len(candidates)
            for shape in shapes:
                before = clock()
                run(candidates[index], shape.texts)
                seconds[index][shape.name].append(clock() - before)
        results = _results(candidates, seconds)
        winners.append(decide(results).chosen.candidate)
        if _settled(winners) or (len(winners) >= MIN_ROUNDS and clock() - started > budget_seconds):
            break
    return results


def decide(results: Sequence[ProbeResult[E]]) -> Decision[E]:
    """The candidate that beats every other by more than their noise; else, among the candidates nothing beats,
    the fastest on the first shape (a tie keeps the earlier candidate).

    Each candidate is compared with the first one round by round (they ran in the same round, so the same burst of
    load from elsewhere slowed both): a round's score is the geometric mean over the shapes of the candidate's time
    over the first one's, and its score is the median of its rounds'."""
    shapes = list(results[0].seconds)
    rounds = [_round_scores(result, results[0], shapes) for result in results]
    scores = tuple(statistics.median(r) for r in rounds)
    noise = tuple(_spread(r) for r in rounds)

    def beats(i: int, j: int) -> bool:
        return scores[i] * (1 + max(MIN_MARGIN, noise[i], noise[j])) < scores[j]

    unbeaten = [i for i in range(len(results)) if not any(beats(j, i) for j in range(len(results)) if j != i)]
    if len(unbeaten) == 1:
        return Decision(results[unbeaten[0]], scores, noise, tied=False)
    first = [statistics.median(_round_scores(results[i], results[0], shapes[:1])) for i in range(len(results))]
    fastest_short = min(unbeaten, key=lambda i: (first[i], i))
    return Decision(results[fastest_short], scores, noise, tied=True)


def _round_scores(result: ProbeResult, reference: ProbeResult, shapes: Sequence[str]) -> list[float]:
    rounds = len(result.seconds[shapes[0]])
    return [
        math.exp(statistics.fmean(math.log(result.seconds[s][r] / reference.seconds[s][r]) for s in shapes))
        for r in range(rounds)
    ]


def _spread(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    return (high - low) / statistics.median(values)


def _results(candidates: Sequence[E], seconds: list[dict[str, list[float]]]) -> list[ProbeResult[E]]:
    return [
        ProbeResult(candidate, {name: tuple(times) for name, times in own.items()})
        for candidate, own in zip(candidates, seconds, strict=True)
    ]


def _settled(winners: list) -> bool:
    recent = winners[-STABLE_ROUNDS:]
    return len(winners) >= max(MIN_ROUNDS, STABLE_ROUNDS) and all(w == recent[0] for w in recent)
