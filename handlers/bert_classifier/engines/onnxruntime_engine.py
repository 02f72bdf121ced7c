"""`OnnxRuntimeEngine`: the archive's ONNX export (fp32, or dynamically quantized int8) in one ONNX Runtime
`InferenceSession` per worker, each micro-batch padded to its longest row."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import NotSupported
from .variants import Variant

SPIN_OFF = {
    # An idle pool thread that spins takes the core the Java frontend and the other worker need (the same
    # reason a worker runs single-threaded torch); with one intra-op thread there is no pool at all.
    "session.intra_op.allow_spinning": "0",
    "session.inter_op.allow_spinning": "0",
}
INPUTS = ("input_ids", "attention_mask")
TYPE_INPUT = "token_type_ids"
"""An export of a model whose tokenizer gives token type ids takes them too (text pairs); older exports do not."""


def session_options(threads: int):
    """Intra-op threads as torch's (`device.threads_per_worker`), one inter-op thread, no spinning."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: its warnings about unused initializers are noise per worker
    for key, value in SPIN_OFF.items():
        options.add_session_config_entry(key, value)
    return options


class OnnxRuntimeEngine:
    """Logits of an exported `*ForSequenceClassification` (inputs `input_ids`, `attention_mask`; output logits)."""

    packed = False
    device = torch.device("cpu")

    def __init__(self, path: str | Path, precision: str, threads: int, pad_token_id: int = 0) -> None:
        import onnxruntime

        self.path = Path(path)
        self.variant = Variant("onnxruntime", precision)
        self.threads = threads
        self.session = onnxruntime.InferenceSession(
            str(self.path), session_options(threads), providers=["CPUExecutionProvider"]
        )
        names = tuple(sorted(i.name for i in self.session.get_inputs()))
        if names not in (tuple(sorted(INPUTS)), tuple(sorted((*INPUTS, TYPE_INPUT)))):
            raise ValueError(f"{self.path.name} takes inputs {names}, expected {INPUTS} (and maybe {TYPE_INPUT})")
        self.takes_types = TYPE_INPUT in names
        self._pad = pad_token_id

    def logits(self, groups: Sequence[Sequence[Sequence[int]]], types: Sequence | None = None) -> torch.Tensor:
        """`[rows, labels]` fp32 logits of the one group of rows in `groups` (padded to its first, longest row);
        `types`: the rows' token type ids (text pairs), or None (all 0)."""
        rows = groups[0]
        longest = len(rows[0])
        input_ids = np.full((len(rows), longest), self._pad, dtype=np.int64)
        attention_mask = np.zeros((len(rows), longest), dtype=np.int64)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = row
            attention_mask[r, : len(row)] = 1
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.takes_types:
            inputs[TYPE_INPUT] = np.zeros((len(rows), longest), dtype=np.int64)
            for r, row in enumerate(types[0] if types else ()):
                inputs[TYPE_INPUT][r, : len(row)] = row
        elif types and any(any(row) for row in types[0]):
            raise NotSupported(
                f"this archive's ONNX export ({self.path.name}) takes no token type ids, so it cannot score text "
                "pairs; rebuild the archive (make archive) or serve it with engine: torch"
            )
        (logits,) = self.session.run(None, inputs)
        return torch.from_numpy(logits)
