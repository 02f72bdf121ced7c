"""`TorchEngine`: the Hugging Face model itself, packed (`packed.py`) or padded, in fp32, bf16 or fp16."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import torch

from ..device import select_dtype, to_device
from ..packed import PackedBert, packing_unsupported
from .variants import Variant

log = logging.getLogger(__name__)

PRECISIONS = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}


class TorchEngine:
    """Logits of a `*ForSequenceClassification` model for groups of token-id rows."""

    def __init__(self, model, precision: str = "auto", packing: str = "auto", pad_token_id: int = 0) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.dtype = select_dtype(self.device, precision)
        if self.dtype != torch.float32:
            # Half-precision weights, cast once: autocast would re-cast every weight on every forward.
            # `TextClassifier` turns the logits back into fp32 before the softmax.
            self.model.to(self.dtype)
        self.variant = Variant("torch", PRECISIONS[self.dtype])
        self._pad = pad_token_id
        self.packed_bert = _packed_forward(model, packing)

    @property
    def packed(self) -> bool:
        """True: one forward takes many length groups and no pad token reaches a matmul (`PackedBert`)."""
        return self.packed_bert is not None

    def logits(self, groups: Sequence[Sequence[Sequence[int]]], types: Sequence | None = None) -> torch.Tensor:
        """`[rows, labels]` logits of every row of `groups`, in order; a padded engine is given one group.
        `types`: the rows' token type ids, shaped as `groups` (text pairs), or None (all 0)."""
        with torch.inference_mode():
            if self.packed_bert:
                return self.packed_bert.logits(groups, types)
            return self._padded_logits(groups[0], types[0] if types else None)

    def _padded_logits(self, rows: Sequence[Sequence[int]], types: Sequence | None) -> torch.Tensor:
        longest = len(rows[0])
        input_ids = torch.full((len(rows), longest), self._pad, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[r, : len(row)] = 1
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if types:  # only pairs on a model whose tokenizer gives type ids (DistilBERT's forward takes none)
            inputs["token_type_ids"] = torch.zeros((len(rows), longest), dtype=torch.long)
            for r, row in enumerate(types):
                inputs["token_type_ids"][r, : len(row)] = torch.tensor(row, dtype=torch.long)
        return self.model(**{name: to_device(value, self.device) for name, value in inputs.items()}).logits


def _packed_forward(model, packing: str) -> PackedBert | None:
    if packing == "off":
        return None
    reason = packing_unsupported(model)
    if reason:
        log.info("token packing off: %s; every micro-batch is padded to its longest text", reason)
        return None
    return PackedBert(model)
