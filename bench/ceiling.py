"""The in-process ceiling: the same model and handler settings called directly, no server in between.

Each `Layout` is a pool of `processes` spawned processes with `threads` torch threads each (one two-threaded
process, or one single-threaded process per core). Every process loads the model once; a measurement hands
each process its share of the batches and starts them together on a barrier, so the wall time is the
slowest process's. Variants: texts per `classify` call (batch) and the order the texts are batched in
(`arrival`: workload order, what a server sees; `sorted`: the workload sorted by length first, then the
batches shuffled, so a time-bounded run still samples every length).
"""

from __future__ import annotations

import multiprocessing
import random
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

from .load import CpuMeter, median
from .workloads import Workload

ORDERS = ("arrival", "sorted")
_state: dict = {}


@dataclass(frozen=True)
class Layout:
    processes: int
    threads: int

    @property
    def name(self) -> str:
        return f"{self.processes}x{self.threads}"


@dataclass(frozen=True)
class CeilingPoint:
    workload: str
    precision: str
    layout: str
    batch: int
    order: str
    texts_per_second: float
    """Median over the repetitions."""
    flops_per_second: float
    runs: int
    foreign_cores: float = 0.0
    """Median cores other processes kept busy during the runs (a shared machine disturbs the numbers)."""


def _init(model_dir: str, settings: dict, threads: int, barrier) -> None:
    import torch

    from bert_classifier.model import TextClassifier
    from bert_classifier.settings import Settings

    torch.set_num_threads(threads)
    classifier = TextClassifier.load(model_dir, Settings(**settings), "cpu")
    classifier.classify(["warm up " * 300, "warm up"])  # lazy init of the long and the short kernels
    _state.update(classifier=classifier, barrier=barrier)


def _work(batches: Sequence[Sequence[str]], flops: Sequence[float], seconds: float) -> tuple[float, float, int, float]:
    """Classify `batches` in order until they run out or `seconds` pass; (start, end, texts, flops)."""
    classifier, barrier = _state["classifier"], _state["barrier"]
    barrier.wait(timeout=300)
    started = time.perf_counter()
    texts, done_flops = 0, 0.0
    for batch, batch_flops in zip(batches, flops, strict=True):
        if time.perf_counter() - started >= seconds:
            break
        classifier.classify(batch)
        texts += len(batch)
        done_flops += batch_flops
    return started, time.perf_counter(), texts, done_flops


class CeilingPool:
    """A pool of model-holding processes in one layout and precision."""

    def __init__(self, model_dir: str, settings: dict, layout: Layout, precision: str) -> None:
        self.layout, self.precision = layout, precision
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(layout.processes)
        settings = {**settings, "precision": precision, "torch_threads": layout.threads}
        self.pool = ProcessPoolExecutor(
            layout.processes,
            mp_context=context,
            initializer=_init,
            initargs=(str(model_dir), settings, layout.threads, barrier),
        )

    def __enter__(self) -> CeilingPool:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def run_once(self, batches: list[list[str]], flops: list[float], seconds: float) -> tuple[float, float, float]:
        """(texts/s, FLOP/s, foreign cores) of one run, batches dealt round-robin to the processes."""
        n = self.layout.processes
        meter = CpuMeter()
        futures = [self.pool.submit(_work, batches[i::n], flops[i::n], seconds) for i in range(n)]
        results = [future.result(timeout=seconds + 600) for future in futures]
        foreign = meter.foreign_cores()
        wall = max(end for _, end, _, _ in results) - min(start for start, _, _, _ in results)
        return sum(r[2] for r in results) / wall, sum(r[3] for r in results) / wall, foreign

    def measure(
        self, workload: Workload, text_flops: Sequence[float], batch: int, order: str, seconds: float, repeats: int
    ) -> CeilingPoint:
        batches, flops = make_batches(workload, text_flops, batch, order)
        runs = [self.run_once(batches, flops, seconds) for _ in range(repeats)]
        return CeilingPoint(
            workload.name,
            self.precision,
            self.layout.name,
            batch,
            order,
            median([r[0] for r in runs]),
            median([r[1] for r in runs]),
            repeats,
            median([r[2] for r in runs]),
        )


def make_batches(
    workload: Workload, text_flops: Sequence[float], batch: int, order: str, seed: int = 0
) -> tuple[list[list[str]], list[float]]:
    """The workload cut into `batch`-text calls, in arrival order or length-sorted (batches shuffled)."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    indices = list(range(len(workload.texts)))
    if order == "sorted":
        indices.sort(key=lambda i: workload.tokens[i] if workload.tokens else len(workload.texts[i]))
    groups = [indices[start : start + batch] for start in range(0, len(indices), batch)]
    if order == "sorted":
        random.Random(seed).shuffle(groups)  # noqa: S311 - seeded, not crypto
    batches = [[workload.texts[i] for i in group] for group in groups]
    flops = [sum(text_flops[i] for i in group) if text_flops else 0.0 for group in groups]
    return batches, flops


def best(points: Sequence[CeilingPoint], workload: str, precision: str) -> CeilingPoint | None:
    """The fastest variant for a workload and precision."""
    candidates = [p for p in points if p.workload == workload and p.precision == precision]
    return max(candidates, key=lambda p: p.texts_per_second, default=None)


def as_dicts(points: Sequence[CeilingPoint]) -> list[dict]:
    return [asdict(point) for point in points]
