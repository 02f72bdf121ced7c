"""`engine: auto`: time each candidate variant on fixed texts at worker start and keep the fastest.

The probe is short (a warm-up call and three timed rounds per candidate, a few hundred milliseconds for the
default model on one thread) and runs on the host that serves, so the choice follows that CPU: its ISA (AVX2,
AVX-512, VNNI, bf16, AMX), its threads and its caches. Candidates are timed in turns, so a burst of load from
another process slows all of them alike, and each keeps its best round.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

E = TypeVar("E")

ROUNDS = 3
PROBE_TEXTS = (
    "Shares in the chip maker rose after strong quarterly earnings.",
    "Striker scores twice as the leaders stretch their lead.",
    "Minister defends plans for the new education bill.",
    "Film festival opens with a record number of premieres.",
    "New phone promises a battery that lasts all week.",
    "Central bank holds interest rates for a third month.",
    "Band announces a farewell tour after twenty years.",
    "Broadband prices fall as competition grows.",
    " ".join(
        [
            "The company said on Tuesday that sales in the last three months of the year had risen faster than",
            "analysts had expected, helped by demand for its new range of products in Europe and Asia, and that it",
            "would raise its dividend. Its shares closed higher in London, while the wider market was flat.",
        ]
        * 3
    ),
)
"""Eight headlines and one article-length text (about 180 tokens): what the variants are timed on."""


@dataclass(frozen=True)
class ProbeResult(Generic[E]):
    candidate: E
    seconds: tuple[float, ...]
    """One per timed round."""

    @property
    def best(self) -> float:
        return min(self.seconds)


def run_probe(
    candidates: Sequence[E],
    run: Callable[[E], object],
    rounds: int = ROUNDS,
    clock: Callable[[], float] = time.perf_counter,
) -> list[ProbeResult[E]]:
    """Warm each candidate up once (lazy initialisation is not what serving pays), then time `run(candidate)`
    `rounds` times, the candidates in turns."""
    for candidate in candidates:
        run(candidate)
    seconds: list[list[float]] = [[] for _ in candidates]
    for _ in range(rounds):
        for index, candidate in enumerate(candidates):
            started = clock()
            run(candidate)
            seconds[index].append(clock() - started)
    return [ProbeResult(c, tuple(s)) for c, s in zip(candidates, seconds, strict=True)]


def fastest(results: Sequence[ProbeResult[E]]) -> ProbeResult[E]:
    """The result with the lowest best round; a tie goes to the earlier candidate (torch fp32 comes first)."""
    return min(results, key=lambda result: result.best)
