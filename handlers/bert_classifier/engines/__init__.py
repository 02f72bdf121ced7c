"""Engines turn groups of token-id rows into logits; `TextClassifier` keeps everything else (tokenising, windows,
micro-batches, results, errors, metrics).

- `TorchEngine`: the Hugging Face model, packed or padded, fp32/bf16/fp16, on the CPU or a GPU;
- `OnnxRuntimeEngine`: the archive's ONNX export, fp32 or dynamically quantized int8, on the CPU.

`select_engine` builds the one a worker serves with: the settings' variant, or with `auto` the probe's choice
among the candidates (`variants.candidates`, `probe.py`), made once per model and host (`shared.py`).
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import torch

from ..device import cpu_isa, cpu_supports_bf16
from ..settings import Settings
from .probe import ProbeResult, decide, run_probe, traffic_shapes
from .shared import shared_choice
from .variants import Variant, candidates, onnx_file, read_verdicts

log = logging.getLogger(__name__)

ISA_LIMITS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY", "MKL_ENABLE_INSTRUCTIONS", "LD_PRELOAD")
"""Environment variables that make the libraries use fewer instructions than the CPU has (an emulated CPU)."""


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
    """Per candidate variant, its timed rounds per shape (the losing engines themselves are dropped)."""
    shared: bool = False
    """True when the choice was read from this host's record (`shared.py`), not probed by this worker."""

    def describe(self) -> str:
        """For the start-up log: how the variant was chosen and, after a probe, the figures it decided on."""
        if not self.probed:
            return "settings (one candidate)"
        decision = decide(self.probed)
        shapes = list(self.probed[0].seconds)
        figures = ", ".join(
            f"{r.candidate.name} {score:.2f} = {'/'.join(f'{r.best(s) * 1000:.1f}' for s in shapes)} ms"
            for r, score in zip(self.probed, decision.scores, strict=True)
        )
        how = f"won a tie on {shapes[0]}" if decision.tied else "beat every other by more than the noise"
        noise = max(decision.noise)
        who = "this host's recorded probe" if self.shared else "probe"
        return (
            f"{who} ({len(self.probed[0].seconds[shapes[0]])} rounds; median score against "
            f"{self.probed[0].candidate.name} and best rounds on {' / '.join(shapes)}: {figures}; "
            f"{decision.chosen.candidate.name} {how}, noise up to {noise:.0%})"
        )

    def as_record(self) -> dict:
        return {
            "chosen": self.engine.variant.name,
            "probed": [
                {"variant": r.candidate.name, "seconds": {s: list(t) for s, t in r.seconds.items()}}
                for r in self.probed
            ],
        }


def select_engine(
    model_dir: str | Path,
    settings: Settings,
    device: torch.device,
    load_model: Callable[[], torch.nn.Module],
    run: Callable[[Engine, Sequence[str]], object],
    pad_token_id: int = 0,
    batch_size: int = 1,
) -> Selection:
    """The engine for `settings` on `device`. On a CPU with several candidates, `run(engine, texts)` (a
    classification) is timed for each on `traffic_shapes(batch_size)` and the probe's decision is kept; the other
    engines are dropped. The first worker of the model on this host probes; the others reuse its record."""
    from .torch_engine import TorchEngine

    if device.type != "cpu" and settings.engine != "onnxruntime":
        return Selection(TorchEngine(load_model(), settings.precision, settings.packing, pad_token_id))
    variants = candidates(model_dir, settings.engine, settings.precision, cpu_supports_bf16(), read_verdicts(model_dir))
    build = functools.partial(_build, model_dir, settings=settings, load_model=load_model, pad_token_id=pad_token_id)
    if len(variants) == 1:
        return Selection(build(variants)[0])
    names = [v.name for v in variants]
    with shared_choice(model_dir, _choice_key(names, settings), names) as (recorded, record):
        if recorded:
            probed = [
                ProbeResult(Variant.parse(r["variant"]), {s: tuple(t) for s, t in r["seconds"].items()})
                for r in recorded["probed"]
            ]
            return Selection(build([Variant.parse(recorded["chosen"])])[0], probed, shared=True)
        results = run_probe(build(variants), run, traffic_shapes(batch_size))
        chosen = decide(results).chosen.candidate
        selection = Selection(chosen, [ProbeResult(r.candidate.variant, r.seconds) for r in results])
        record(selection.as_record())
        return selection


def _choice_key(names: list[str], settings: Settings) -> dict:
    """What the probe's choice depends on besides the model (`shared.model_fingerprint`). Not the batch size: the
    explanations pool of an archive (batch size 1) serves what its prediction pool chose."""
    return {
        "candidates": names,
        "threads": torch.get_num_threads(),
        "settings": [settings.packing, settings.max_length, settings.token_budget, settings.long_text],
        "cpu": [cpu_isa(), torch.backends.cpu.get_cpu_capability()],
        "isa_limits": {name: os.environ.get(name, "") for name in ISA_LIMITS},
        "versions": [_version("torch"), _version("onnxruntime")],
    }


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return ""


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
