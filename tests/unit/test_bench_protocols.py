"""bench.protocols: importable and runnable on its own (`python -m bench.protocols`), its payloads per protocol."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.protocols import oip_payloads, standalone_texts

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_the_standalone_run_plans_headlines_from_the_corpus():
    texts = standalone_texts(12)

    assert len(texts) == 12
    assert all(text and "\n" not in text for text in texts)  # headlines: the `short` workload
    assert standalone_texts(12) == texts  # seeded


def test_python_dash_m_bench_protocols_starts():
    done = subprocess.run(
        [sys.executable, "-m", "bench.protocols", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert "--concurrency" in done.stdout


def test_an_oip_payload_is_one_bytes_tensor_of_one_text():
    [payload] = oip_payloads(["Shares rose."])

    assert json.loads(payload.body) == {
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["Shares rose."]}]
    }
