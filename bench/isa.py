"""Emulate an AVX2-only CPU (no AVX-512, AVX-VNNI, AMX or bf16) on a newer x86 host, to measure the fast path a
host like the issue's AMD EPYC gets.

Two layers, because the libraries pick their kernels differently:
- torch: `ONEDNN_MAX_CPU_ISA=AVX2` (oneDNN), `ATEN_CPU_CAPABILITY=avx2` (ATen's kernels),
  `MKL_ENABLE_INSTRUCTIONS=AVX2` (MKL's sgemm);
- ONNX Runtime has no such switch: its MLAS kernels are chosen from CPUID at first use. `cpuid_avx2.c`, preloaded
  into Python processes only (`LD_PRELOAD`; the JVM is left alone), makes CPUID trap (Linux CPUID faulting,
  `cpuid_fault` in /proc/cpuinfo) and clears those feature bits, which also covers the three libraries above.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .plan import Variant
    from .records import VariantRecord

NATIVE, AVX2 = "native", "avx2"
"""What a measurement ran on: the host's own instructions, or the emulated AVX2-only CPU."""
SOURCE = Path(__file__).with_name("cpuid_avx2.c")
TORCH_AVX2 = {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}


def avx2_environment(build_dir: Path) -> dict[str, str]:
    """Environment variables that make a Python process (and its children) see an AVX2-only CPU."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise RuntimeError("AVX2 emulation needs a C compiler (cc) to build cpuid_avx2.so")
    build_dir.mkdir(parents=True, exist_ok=True)
    library = build_dir / "cpuid_avx2.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", str(library), str(SOURCE)], check=True)
    return {**TORCH_AVX2, "LD_PRELOAD": str(library.resolve())}


def emulated_isa(env: dict[str, str]) -> str:
    """What torch reports under `env` (`AVX2` when the emulation works), from a child process."""
    import os
    import sys

    code = "import torch; print(torch.backends.cpu.get_cpu_capability(), torch.ops.mkldnn._is_mkldnn_bf16_supported())"
    result = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True, text=True,
                            check=True)  # fmt: skip
    capability, bf16 = result.stdout.split()
    return f"{capability}{' +bf16' if bf16 == 'True' else ''}"


def variant_environment(store: Path, variant: Variant, record: VariantRecord | None = None) -> dict[str, str]:
    """The workers' environment for `variant`; under the AVX2 emulation, checked to take effect first (what torch
    reports is kept in `record`)."""
    if not variant.avx2:
        return variant.env
    env = variant.env | avx2_environment(store.parent / f"{store.name}-isa")
    reported = emulated_isa(env)
    if record is not None:
        record.emulated_isa = reported
    if reported != "AVX2":
        raise RuntimeError(f"the AVX2 emulation did not take: torch reports {reported}")
    return env
