"""The machine a bench run ran on: CPU, memory, software versions, background load, matmul peaks."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from training.machine import cpu_flags, cpu_model, package_version

from .records import Machine, Peaks


def describe_machine(cores: int, native_bf16: bool) -> Machine:
    """This machine, and how busy it was in the second before the run (other processes disturb a run)."""
    import psutil
    import torch

    flags = cpu_flags()
    return Machine(
        cpu=cpu_model(),
        usable_cores=cores,
        logical_cpus=os.cpu_count(),
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        native_bf16=native_bf16,
        avx512_bf16="avx512_bf16" in flags,
        amx_bf16="amx_bf16" in flags,
        avx512f="avx512f" in flags,
        python=platform.python_version(),
        torch=torch.__version__,
        torchserve=package_version("torchserve"),
        transformers=package_version("transformers"),
        os=f"{platform.system()} {platform.release()}",
        busy_percent_before=psutil.cpu_percent(interval=1.0),
        load_average_before=[round(x, 2) for x in os.getloadavg()],
    )


def measure_peaks(cores: int, seconds: float) -> Peaks:
    """fp32 and bf16 matmul peaks with every usable core."""
    import torch

    from .peaks import matmul_peak

    fp32 = matmul_peak(torch.float32, threads=cores, seconds=seconds)
    bf16 = matmul_peak(torch.bfloat16, threads=cores, seconds=seconds)
    return Peaks(fp32=fp32.flops, bf16=bf16.flops, size=fp32.size, threads=fp32.threads)


def param_count(model_dir: Path) -> int:
    """Parameters in the model's safetensors file."""
    from safetensors import safe_open

    total = 0
    with safe_open(str(model_dir / "model.safetensors"), framework="pt") as weights:
        for key in weights.keys():  # noqa: SIM118 - safe_open is not a mapping
            count = 1
            for size in weights.get_slice(key).get_shape():
                count *= size
            total += count
    return total
