"""Matrix-multiply peaks (fp32, bf16) measured on this machine, and the model's FLOPs per sequence.

The peaks are what torch's own GEMM reaches with all usable cores on a large square matrix multiply: the
practical roof for a transformer encoder, whose time is almost all in matmuls.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Peak:
    dtype: str
    size: int
    threads: int
    flops: float
    """Best FLOP/s over the repetitions."""


def matmul_peak(dtype: torch.dtype, size: int = 2048, threads: int | None = None, seconds: float = 1.5) -> Peak:
    """Best FLOP/s of `size`×`size` @ `size`×`size` in `dtype`, over about `seconds` of repetitions."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        a = torch.randn(size, size).to(dtype)
        b = torch.randn(size, size).to(dtype)
        out = torch.empty(size, size, dtype=dtype)
        torch.mm(a, b, out=out)  # first call: oneDNN kernel selection, page faults
        best = float("inf")
        deadline = time.perf_counter() + seconds
        repetitions = 0
        while repetitions < 3 or (time.perf_counter() < deadline and repetitions < 200):
            started = time.perf_counter()
            torch.mm(a, b, out=out)
            best = min(best, time.perf_counter() - started)
            repetitions += 1
        return Peak(str(dtype).removeprefix("torch."), size, torch.get_num_threads(), 2 * size**3 / best)
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class EncoderShape:
    """What the FLOP count needs from a BERT-style config."""

    layers: int
    hidden: int
    intermediate: int
    labels: int

    @classmethod
    def from_config(cls, config) -> EncoderShape:
        return cls(config.num_hidden_layers, config.hidden_size, config.intermediate_size, config.num_labels)

    @property
    def matmul_params(self) -> int:
        """Weights used in matmuls per token: Q, K, V, output projections and the two feed-forward layers."""
        return self.layers * (4 * self.hidden * self.hidden + 2 * self.hidden * self.intermediate)


def sequence_flops(shape: EncoderShape, tokens: int) -> float:
    """Forward FLOPs for one sequence of `tokens` (unpadded): 2 × matmul weights × tokens, plus attention
    scores and the weighted sum (2 × 2 × tokens² × hidden per layer), plus pooler and classifier."""
    dense = 2 * shape.matmul_params * tokens
    attention = 4 * shape.layers * tokens * tokens * shape.hidden
    head = 2 * (shape.hidden * shape.hidden + shape.hidden * shape.labels)
    return float(dense + attention + head)
