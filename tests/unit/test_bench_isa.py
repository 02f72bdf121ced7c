"""bench.isa: the AVX2 emulation is checked to take effect before a variant is measured under it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench import isa
from bench.plan import QUICK, catalog
from bench.records import VariantRecord

pytestmark = pytest.mark.unit


def record() -> VariantRecord:
    return VariantRecord("fp32-avx2", "", "shipped", {}, True, {})


def test_an_emulation_that_did_not_take_fails_the_variant_and_is_recorded(monkeypatch, tmp_path):
    monkeypatch.setattr(isa, "avx2_environment", lambda build_dir: {"LD_PRELOAD": "x.so"})
    monkeypatch.setattr(isa, "emulated_isa", lambda env: "AVX512 +bf16")
    found = record()
    with pytest.raises(RuntimeError, match="did not take: torch reports AVX512 \\+bf16"):
        isa.variant_environment(tmp_path / "store", catalog(2, QUICK)["fp32-avx2"], found)
    assert found.emulated_isa == "AVX512 +bf16"


def test_a_variant_without_emulation_keeps_its_environment(tmp_path):
    variant = catalog(2, QUICK)["fp32"]
    assert isa.variant_environment(tmp_path / "store", variant) == variant.env


@pytest.mark.skipif(not shutil.which("cc"), reason="needs a C compiler")
def test_the_emulation_takes_on_this_host(tmp_path):
    """Where the CPU supports CPUID faulting, torch sees AVX2 and no bf16 under the emulation."""
    if "cpuid_fault" not in Path("/proc/cpuinfo").read_text():
        pytest.skip("no CPUID faulting on this CPU")
    found = record()
    env = isa.variant_environment(tmp_path / "store", catalog(2, QUICK)["fp32-avx2"], found)
    assert found.emulated_isa == "AVX2"
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2"
