"""The stand-in for SageMaker Batch Transform's splitter and assembler (`tests/integration/batch_transform.py`)
follows AWS's documented rules, so the integration test sends what a real job would."""

from __future__ import annotations

import pytest

from tests.integration.batch_transform import assemble_with_line, split_multi_record

pytestmark = pytest.mark.unit


def test_multi_record_packs_whole_lines_up_to_max_payload():
    data = b"a\nbb\nccc\n"
    assert list(split_multi_record(data, 1)) == [data]
    big = (b"x" * 600_000 + b"\n") * 3
    assert [len(body) for body in split_multi_record(big, 1)] == [600_001, 600_001, 600_001]


def test_a_record_larger_than_max_payload_is_an_error():
    with pytest.raises(ValueError, match="MaxPayloadInMB"):
        list(split_multi_record(b"y" * (1024 * 1024 + 1), 1))


def test_assemble_with_line_writes_each_answer_stripped_then_a_newline():
    assert assemble_with_line([b"1\n2\n", b"3\n"]) == b"1\n2\n3\n"
