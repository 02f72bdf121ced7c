"""The in-process ceiling: the same model and handler settings called directly, no server in between.

Each `Layout` is a pool of `processes` spawned processes with `threads` torch threads each (one two-threaded
process, or one single-threaded process per core, each kept to a core of its own as the shipped server's workers
are: `bert_classifier.cpu_affinity`). Every process loads the model once, in one engine variant
(torch fp32/bf16 in every layout; ONNX Runtime fp32/int8, from the archive's ONNX export, in the served layout
of one single-threaded process per core). A run classifies a
fixed sample of the workload completely, one `classify` call per batch, the batches handed out to whichever
process is free (as a server's workers take batches), and counts texts over the wall time from the first
batch handed out to the last answer. Work-bounded rather than time-bounded, so a run of long and short
batches covers exactly the workload's mix. Variants: texts per `classify` call (batch) and the order the
texts are batched in (`arrival`: workload order, what a server sees; `sorted`: the sample sorted by length
first, so each call holds texts of similar length).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from .isa import AVX2, NATIVE
from .load import CpuMeter, _tree_cpu, median
from .plan import Plan
from .records import CeilingPoint
from .workloads import Workload

ORDERS = ("arrival", "sorted")
Call = tuple[list[str], list[str]]
"""One `classify` call: its texts and their second texts (empty but for a pair workload)."""
_state: dict = {}


@dataclass(frozen=True)
class Layout:
    processes: int
    threads: int

    @property
    def name(self) -> str:
        return f"{self.processes}x{self.threads}"


def _init(model_dir: str, settings: dict, threads: int, barrier, cores_folder: str) -> None:
    import torch

    from bert_classifier.cpu_affinity import pin_to_free_cores
    from bert_classifier.model import TextClassifier
    from bert_classifier.settings import Settings

    torch.set_num_threads(threads)
    pin_to_free_cores(threads, Path(cores_folder))  # as the shipped server's workers keep to a core each
    classifier = TextClassifier.load(model_dir, Settings(**settings), "cpu")
    classifier.classify(["warm up " * 300, "warm up"])  # lazy init of the long and the short kernels
    _state.update(classifier=classifier, barrier=barrier)


def _classify(batch: Call) -> int:
    texts, pairs = batch
    _state["classifier"].classify(texts, pairs)
    return len(texts)


def _ready() -> str:
    """Blocks until every process of the pool runs it, so each has loaded its model (and each process answers
    once): the instruction set torch's kernels use in it."""
    import torch

    _state["barrier"].wait(timeout=600)
    return torch.backends.cpu.get_cpu_capability()


class CeilingPool:
    """A pool of model-holding processes in one layout and precision, on the host's own instructions or, with
    `emulation` (`bench.isa.avx2_environment`), on an emulated AVX2-only CPU."""

    def __init__(
        self,
        model_dir: str,
        settings: dict,
        layout: Layout,
        engine: str,
        precision: str,
        emulation: dict[str, str] | None = None,
    ) -> None:
        self.layout, self.engine, self.precision = layout, engine, precision
        self.isa = AVX2 if emulation else NATIVE
        settings = {**settings, "engine": engine, "precision": precision, "torch_threads": layout.threads}
        context = multiprocessing.get_context("spawn")
        self.cores_folder = tempfile.TemporaryDirectory(prefix="ceiling-cores-")  # this pool's claims only
        self.pool = ProcessPoolExecutor(
            layout.processes,
            mp_context=context,
            initializer=_init,
            initargs=(str(model_dir), settings, layout.threads, context.Barrier(layout.processes),
                      self.cores_folder.name),
        )  # fmt: skip
        # Every process started (under the emulation's environment), loaded and warmed before anything is timed.
        with _environment(emulation or {}):
            futures = [self.pool.submit(_ready) for _ in range(layout.processes)]
            capabilities = {future.result(timeout=600) for future in futures}
        if emulation and capabilities != {"AVX2"}:
            self.pool.shutdown(cancel_futures=True)
            raise RuntimeError(f"the AVX2 emulation did not take in the ceiling: torch reports {capabilities}")

    def __enter__(self) -> CeilingPool:
        return self

    def __exit__(self, *exc) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.cores_folder.cleanup()

    def run_once(
        self, batches: list[tuple[list[str], list[str]]], flops: list[float]
    ) -> tuple[float, float, float, float]:
        """(texts/s, FLOP/s, foreign cores, CPU ms per text of the pool) of classifying every batch once."""
        meter, cpu = CpuMeter(), _tree_cpu(with_self=False)  # the pool's processes: not this one handing out batches
        started = time.perf_counter()
        texts = sum(self.pool.map(_classify, batches, timeout=900))
        wall = time.perf_counter() - started
        return texts / wall, sum(flops) / wall, meter.foreign_cores(), (_tree_cpu(with_self=False) - cpu) * 1000 / texts

    def measure(
        self, workload: Workload, text_flops: Sequence[float], batch: int, order: str, sample: int, repeats: int
    ) -> CeilingPoint:
        batches, flops = make_batches(workload, text_flops, batch, order, sample)
        runs = [self.run_once(batches, flops) for _ in range(repeats)]
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
            self.engine,
            median([r[3] for r in runs]),
            self.isa,
        )


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """`values` set in os.environ meanwhile: the processes a spawn pool starts inherit them (LD_PRELOAD included)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def make_batches(
    workload: Workload, text_flops: Sequence[float], batch: int, order: str, sample: int | None = None
) -> tuple[list[Call], list[float]]:
    """The first `sample` texts of the workload (all by default) cut into `batch`-text calls, in arrival
    order or sorted by length (longest first, so the slowest calls do not trail at the end of a run). Each call
    is (texts, their second texts): the second list is empty but for a pair workload."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}")
    indices = list(range(min(sample or len(workload.texts), len(workload.texts))))
    if order == "sorted":
        indices.sort(key=lambda i: -(workload.tokens[i] if workload.tokens else len(workload.texts[i])))
    groups = [indices[start : start + batch] for start in range(0, len(indices), batch)]
    batches = [
        ([workload.texts[i] for i in group], [workload.pairs[i] for i in group] if workload.pairs else [])
        for group in groups
    ]
    flops = [sum(text_flops[i] for i in group) if text_flops else 0.0 for group in groups]
    return batches, flops


def served_layout(cores: int) -> Layout:
    """The shipped server's layout: one single-threaded process per core."""
    return Layout(max(cores, 1), 1)


def measure_ceiling(
    model_dirs: dict[str, Path],
    settings: dict,
    variants: Sequence[str],
    workloads: dict,
    plan: Plan,
    cores: int,
    log: Callable[[str], None],
    emulation: dict[str, str] | None = None,
) -> list[CeilingPoint]:
    """Every point of `plan.ceiling_grid` per variant (`torch-fp32`, `onnxruntime-int8`, ...) and layout: torch in
    both (one process with a thread per core; one single-threaded process per core), ONNX Runtime in the second.
    With `emulation` (the AVX2 emulation's environment), also `plan.emulated_ceiling_grid` per variant but bf16
    on the emulated AVX2-only CPU, in the served layout. `model_dirs` maps an engine to the folder it loads (the
    ONNX one holds the export next to the model)."""
    points = []
    for name in variants:
        engine, _, precision = name.rpartition("-")
        one_per_core = served_layout(cores)
        layouts = [Layout(1, cores), one_per_core] if engine == "torch" and cores > 1 else [one_per_core]
        for layout in layouts:
            with CeilingPool(str(model_dirs[engine]), settings, layout, engine, precision) as pool:
                points += _measure_pool(pool, workloads, plan, plan.ceiling_grid, log)
    for name in [name for name in variants if not name.endswith("-bf16")] if emulation else []:
        engine, _, precision = name.rpartition("-")  # no bf16: an AVX2-only CPU has no native bf16
        with CeilingPool(str(model_dirs[engine]), settings, served_layout(cores), engine, precision, emulation) as pool:
            points += _measure_pool(pool, workloads, plan, plan.emulated_ceiling_grid, log)
    return points


def _measure_pool(
    pool: CeilingPool, workloads: dict, plan: Plan, grid: Sequence[tuple[str, int, str]], log: Callable[[str], None]
) -> list[CeilingPoint]:
    """Every point of `grid` (workload, texts per call, order) on one pool, logging the best per workload."""
    samples, points = dict(plan.ceiling_samples), []
    for name in dict.fromkeys(name for name, _, _ in grid):
        workload, flops = workloads[name]
        mine = [
            pool.measure(workload, flops, batch, order, samples.get(name), plan.ceiling_repeats)
            for grid_name, batch, order in grid
            if grid_name == name
        ]
        points += mine
        top = max(mine, key=lambda p: p.texts_per_second)
        log(
            f"ceiling {top.variant}{' (AVX2 emulated)' if pool.isa == AVX2 else ''} {pool.layout.name} {name}: best "
            f"{top.texts_per_second:.0f} texts/s (batch {top.batch}, {top.order}; {top.cpu_ms_per_text:.2f} ms "
            f"CPU/text; other processes {top.foreign_cores:.2f} cores)"
        )
    return points
