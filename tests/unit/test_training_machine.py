"""training.machine: what the model card and the bench report say about the CPU."""

from __future__ import annotations

import pytest

from training.machine import cpu_flags, cpu_model

pytestmark = pytest.mark.unit


def test_cpu_model_and_flags_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test Xeon\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert cpu_model(cpuinfo) == "Test Xeon"
    assert cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert cpu_flags(tmp_path / "missing") == set()
