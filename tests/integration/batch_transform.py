"""A stand-in for SageMaker Batch Transform's side of a job (no AWS here): split input files into mini-batch
requests and assemble the answers, following AWS's documented behaviour and AWS's own local-mode emulation of it
(sagemaker-python-sdk, `sagemaker.local.data.MultiRecordStrategy` and `_LocalTransformJob`). Its own tests are
unit tests (tests/unit/test_batch_transform_stand_in.py).

- `SplitType=Line`: a record is one line of the file, split on newline boundaries (whatever the content type:
  a CSV field with a newline in it is cut too, so CSV input must not have any).
- `BatchStrategy=MultiRecord`: each request carries as many whole records (lines, newline included) as fit in
  `MaxPayloadInMB` (MiB); a record larger than that on its own is an error.
- `AssembleWith=Line`: each answer, stripped of surrounding whitespace, is written followed by one newline, in
  the order of the requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

MIB = 1024 * 1024


def split_multi_record(data: bytes, max_payload_mb: int) -> Iterator[bytes]:
    """The request bodies of a SplitType=Line, BatchStrategy=MultiRecord job over one input file."""
    limit = max_payload_mb * MIB
    batch = b""
    for record in data.splitlines(keepends=True):
        if len(record) > limit:
            raise ValueError(f"a record of {len(record)} bytes is over MaxPayloadInMB={max_payload_mb}")
        if len(batch) + len(record) > limit:
            yield batch
            batch = b""
        batch += record
    if batch:
        yield batch


def assemble_with_line(answers: list[bytes]) -> bytes:
    """The output file of an AssembleWith=Line job: each answer stripped, then a newline."""
    return b"".join(answer.strip() + b"\n" for answer in answers)


def run_job(data: bytes, max_payload_mb: int, invoke: Callable[[bytes], bytes]) -> tuple[bytes, int]:
    """(output file, number of requests) of a job whose container is called through `invoke`."""
    answers = [invoke(body) for body in split_multi_record(data, max_payload_mb)]
    return assemble_with_line(answers), len(answers)
