"""`engine: auto`: time each candidate variant on texts shaped like the traffic and keep the one that serves fastest.

The probe runs on the host that serves, so the choice follows that CPU: its ISA (AVX2, AVX-512, VNNI, bf16, AMX),
its threads and its caches. It times three shapes of work: one headline (a request alone in its batch), a full
batch of headlines (`batchSize` of the model-config) and one article at `max_length`. Candidates run in turns,
each round starting with another candidate, so a burst of load from another process slows all of them alike.

A candidate's cost on a shape is its best round (interference only ever adds time); its score is the geometric
mean over the shapes of that cost relative to the first candidate (torch fp32), so a long text does not drown the
short ones. Its noise is how far its median round lies above its best. A candidate beats another only by more than
the larger noise of the two (and never by less than `MIN_MARGIN`); candidates that do not beat each other tie, and
a tie goes to the faster on the first shape, a batch of headlines: the common request. Rounds repeat until the
same candidate has won `STABLE_ROUNDS` times in a row, or the time budget ends.
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
"""Timed rounds stop once the probe has run this long (the warm-up excluded), even if the winner still changes."""
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

    @property
    def noise(self) -> float:
        """The largest relative excess of a shape's median round over its best round."""
        return max(statistics.median(s) / min(s) - 1 for s in self.seconds.values())


@dataclass(frozen=True)
class Decision(Generic[E]):
    chosen: ProbeResult[E]
    scores: tuple[float, ...]
    """Per result, in order: geometric mean over shapes of its best time relative to the first result's."""
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
        if _settled(winners) or clock() - started > budget_seconds:
            break
    return results


def decide(results: Sequence[ProbeResult[E]]) -> Decision[E]:
    """The candidate that beats every other by more than their noise; else, among the candidates nothing beats,
    the fastest on the first shape (a tie keeps the earlier candidate)."""
    shapes = list(results[0].seconds)
    reference = results[0]
    scores = tuple(math.exp(statistics.fmean(math.log(r.best(s) / reference.best(s)) for s in shapes)) for r in results)
    unbeaten = [
        i
        for i, result in enumerate(results)
        if not any(_beats(scores[j], other, scores[i], result) for j, other in enumerate(results) if j != i)
    ]
    if len(unbeaten) == 1:
        return Decision(results[unbeaten[0]], scores, tied=False)
    fastest_short = min(unbeaten, key=lambda i: (results[i].best(shapes[0]), i))
    return Decision(results[fastest_short], scores, tied=True)


def _beats(score: float, result: ProbeResult, other_score: float, other: ProbeResult) -> bool:
    margin = max(MIN_MARGIN, result.noise, other.noise)
    return score * (1 + margin) < other_score


def _results(candidates: Sequence[E], seconds: list[dict[str, list[float]]]) -> list[ProbeResult[E]]:
    return [
        ProbeResult(candidate, {name: tuple(times) for name, times in own.items()})
        for candidate, own in zip(candidates, seconds, strict=True)
    ]


def _settled(winners: list) -> bool:
    recent = winners[-STABLE_ROUNDS:]
    return len(winners) >= max(MIN_ROUNDS, STABLE_ROUNDS) and all(w == recent[0] for w in recent)
