"""Engines turn groups of token-id rows into logits; `TextClassifier` keeps everything else (tokenising, windows,
micro-batches, results, errors, metrics).

- `TorchEngine`: the Hugging Face model, packed or padded, fp32/bf16/fp16, on the CPU or a GPU;
- `OnnxRuntimeEngine`: the archive's ONNX export, fp32 or dynamically quantized int8, on the CPU.

`select_engine` builds the one a worker serves with: the settings' variant, or with `auto` the fastest of the
candidates (`variants.candidates`) in a start-up probe (`probe.py`).
"""

from __future__ import annotations

import copy
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from ..device import cpu_supports_bf16
from ..settings import Settings
from .probe import ProbeResult, fastest, run_probe
from .shared import shared_choice
from .variants import Variant, candidates, onnx_file, read_verdicts

log = logging.getLogger(__name__)


class Engine(Protocol):
    variant: Variant
    """The engine and precision that run (after any fallback)."""
    device: torch.device
    packed: bool
    """True: one call takes many length groups (token packing); False: one group per call, padded to its longest."""

    def logits(self, groups: Sequence[Sequence[Sequence[int]]], types: Sequence | None = None) -> torch.Tensor:
        """`[rows, labels]` logits (any float dtype) of every row of `groups`, in order; `types`, when given, the
        rows' token type ids in the same shape (text pairs on a model that takes them)."""


@dataclass
class Selection:
    """The engine a worker serves with, and the probe that chose it (empty when there was nothing to choose)."""

    engine: Engine
    probed: list[ProbeResult[Variant]] = field(default_factory=list)
    """Per candidate variant, its timed rounds (the losing engines themselves are dropped)."""
    shared: bool = False
    """True when another worker of this model ran the probe (`shared.py`)."""

    def describe(self) -> str:
        """For the start-up log: how the variant was chosen and, after a probe, each candidate's best round."""
        if not self.probed:
            return "settings (one candidate)"
        figures = ", ".join(f"{r.candidate.name} {r.best * 1000:.1f} ms" for r in self.probed)
        who = "another worker's probe" if self.shared else "probe"
        return f"{who} (best of {len(self.probed[0].seconds)} rounds on fixed texts: {figures})"

    def as_record(self) -> dict:
        return {
            "chosen": self.engine.variant.name,
            "probed": [{"variant": r.candidate.name, "seconds": list(r.seconds)} for r in self.probed],
        }


def select_engine(
    model_dir: str | Path,
    settings: Settings,
    device: torch.device,
    load_model: Callable[[], torch.nn.Module],
    run: Callable[[Engine], object],
    pad_token_id: int = 0,
) -> Selection:
    """The engine for `settings` on `device`. On a CPU with several candidates, `run(engine)` (a classification of
    the probe texts) is timed for each and the fastest is kept; the others are dropped."""
    from .torch_engine import TorchEngine

    if device.type != "cpu" and settings.engine != "onnxruntime":
        return Selection(TorchEngine(load_model(), settings.precision, settings.packing, pad_token_id))
    variants = candidates(model_dir, settings.engine, settings.precision, cpu_supports_bf16(), read_verdicts(model_dir))
    build = functools.partial(_build, model_dir, settings=settings, load_model=load_model, pad_token_id=pad_token_id)
    if len(variants) == 1:
        return Selection(build(variants)[0])
    key = {"candidates": [v.name for v in variants], "threads": torch.get_num_threads(), "packing": settings.packing}
    with shared_choice(model_dir, key) as (recorded, record):
        if recorded:
            probed = [ProbeResult(Variant.parse(r["variant"]), tuple(r["seconds"])) for r in recorded["probed"]]
            return Selection(build([Variant.parse(recorded["chosen"])])[0], probed, shared=True)
        results = run_probe(build(variants), run)
        chosen = fastest(results).candidate
        selection = Selection(chosen, [ProbeResult(r.candidate.variant, r.seconds) for r in results])
        record(selection.as_record())
        return selection


def _build(model_dir, variants: list[Variant], *, settings: Settings, load_model, pad_token_id: int) -> list[Engine]:
    from .onnxruntime_engine import OnnxRuntimeEngine
    from .torch_engine import TorchEngine

    engines: list[Engine] = []
    torch_variants = [variant for variant in variants if variant.engine == "torch"]
    model = load_model() if torch_variants else None
    for variant in variants:
        if variant.engine == "onnxruntime":
            path = onnx_file(model_dir, variant)
            engines.append(OnnxRuntimeEngine(path, variant.precision, torch.get_num_threads(), pad_token_id))
        else:  # each torch variant but the last gets a copy: TorchEngine casts the weights in place
            own = model if variant == torch_variants[-1] else copy.deepcopy(model)
            engines.append(TorchEngine(own, variant.precision, settings.packing, pad_token_id))
    return engines
