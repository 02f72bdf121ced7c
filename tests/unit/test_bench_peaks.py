"""bench.peaks: the model's FLOPs per text."""

from __future__ import annotations

import pytest

from bench.peaks import EncoderShape, sequence_flops

pytestmark = pytest.mark.unit


def test_minilm_flops_per_token():
    shape = EncoderShape(layers=6, hidden=384, intermediate=1536, labels=5)
    assert shape.matmul_params == 6 * (4 * 384 * 384 + 2 * 384 * 1536)  # 10.6 M
    one, two = sequence_flops(shape, 100), sequence_flops(shape, 200)
    assert one == pytest.approx(2 * shape.matmul_params * 100 + 4 * 6 * 100 * 100 * 384 + 2 * (384 * 384 + 384 * 5))
    assert two > 2 * one  # attention grows with the square of the length
