"""Where the model runs: the device, its precision, and how many CPU threads a worker may use."""

from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def select_device(gpu_id: int | str | None) -> torch.device:
    """`cuda:<gpu_id>` when the model server assigned a GPU and CUDA is usable, else the CPU."""
    if gpu_id is not None and str(gpu_id) != "" and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


def select_dtype(device: torch.device, precision: str) -> torch.dtype:
    """The compute dtype for a precision setting on this device; falls back to fp32 where it is not safe."""
    if device.type == "cuda":
        if precision in ("auto", "bf16") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32 if precision == "fp32" else torch.float16
    if precision in ("auto", "bf16"):
        # Where the CPU has native bf16: the accuracy and the speed against fp32 are in docs/reports/bench.md and the
        # model card; `engine: auto` probes it against fp32 at start-up rather than trusting either.
        if cpu_supports_bf16():
            return torch.bfloat16
        if precision == "bf16":
            log.warning("precision=bf16 asked for, but this CPU has no native bf16: running fp32")
    elif precision == "fp16":
        log.warning("precision=fp16 is not supported on CPU: running fp32")
    return torch.float32


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` on `device`; to a GPU through pinned host memory, so the copy does not block the host."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def cpu_supports_bf16() -> bool:
    """True when oneDNN reports native bf16 (AVX512-BF16 or AMX) on this CPU."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def usable_cores() -> int:
    """Cores this process may run on (affinity/cgroup-aware where the OS tells us)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def threads_per_worker(explicit: int, workers: int, cores: int | None = None) -> int:
    """Torch threads for one worker: the explicit setting, else the cores shared out among the workers."""
    if explicit > 0:
        return explicit
    return max(1, (cores or usable_cores()) // max(1, workers))


ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
"""The /proc/cpuinfo flags that decide which variant is fastest: wide vectors, int8 dot products, bf16."""


def cpu_isa() -> str:
    """The ISA flags of `ISA_FLAGS` this CPU reports, e.g. `avx2 avx512f avx512_vnni` ('?' where unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), [])
    except OSError:
        return "?"
    return " ".join(flag for flag in ISA_FLAGS if flag in flags) or "none of " + ",".join(ISA_FLAGS)
