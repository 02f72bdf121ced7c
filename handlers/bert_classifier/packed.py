"""`PackedBert`: a BERT sequence classifier's forward pass with no pad token in any matrix multiply.

The texts of a batch are concatenated into one `[tokens, hidden]` matrix, so every linear layer (nearly all of
the compute) runs once per layer for the whole batch and only on real tokens. Only attention needs the texts
apart: for it the tokens of each length group (a micro-batch from `plan_micro_batches`) are padded to that
group's longest text, attended with a key mask, and packed again. The idea is text-embeddings-inference's
"no padding" BERT; the weights are the Hugging Face modules' own, so nothing is converted or copied except one
fused query/key/value matrix per layer.

Supports `BertForSequenceClassification` with absolute positions, no decoder or cross-attention
(`packing_unsupported` says why not); anything else runs through the model's own forward.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .device import to_device


def packing_unsupported(model) -> str | None:
    """None when `model` can run packed; otherwise why not (for the start-up log)."""
    config = getattr(model, "config", None)
    checks = {
        "model_type is not bert": getattr(config, "model_type", None) != "bert",
        "not a BertForSequenceClassification": type(model).__name__ != "BertForSequenceClassification",
        "position_embedding_type is not absolute": getattr(config, "position_embedding_type", "absolute") != "absolute",
        "a decoder or cross-attention model": bool(
            getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False)
        ),
        "no pooler": getattr(getattr(model, "bert", None), "pooler", None) is None,
    }
    return next((reason for reason, failed in checks.items() if failed), None)


@dataclass(frozen=True)
class _Group:
    """Where one length group's tokens sit in the packed matrix, and how they pad to `[rows, longest]`."""

    start: int
    stop: int
    rows: int
    longest: int
    slots: torch.Tensor | None
    """Flat `[rows * longest]` positions of the group's tokens; None when every row is `longest` long."""
    key_mask: torch.Tensor | None
    """`[rows, 1, 1, longest]`, True for real keys; None when nothing is padded."""


class PackedBert:
    """Logits of a `BertForSequenceClassification` for groups of token-id rows, computed on packed tokens."""

    def __init__(self, model) -> None:
        reason = packing_unsupported(model)
        if reason:
            raise TypeError(f"cannot run this model packed: {reason}")
        self.model = model
        bert = model.bert
        self.heads = model.config.num_attention_heads
        # One [3*hidden, hidden] matmul per layer instead of three (a third of the weight-streaming calls).
        self.qkv = [
            (
                torch.cat([a.self.query.weight, a.self.key.weight, a.self.value.weight]),
                torch.cat([a.self.query.bias, a.self.key.bias, a.self.value.bias]),
            )
            for a in (layer.attention for layer in bert.encoder.layer)
        ]

    def logits(self, groups: Sequence[Sequence[Sequence[int]]], types: Sequence | None = None) -> torch.Tensor:
        """`[rows, labels]` logits for every row of every group, in that order. Each group's first row is its
        longest (as `plan_micro_batches` orders them). `types`: token type ids shaped as `groups` (text pairs),
        or None (all 0). Call it under `torch.inference_mode()`."""
        device = self.qkv[0][0].device
        rows = [row for group in groups for row in group]
        lengths = torch.tensor([len(row) for row in rows])
        ids = torch.tensor([token for row in rows for token in row], dtype=torch.long)
        starts = torch.cumsum(lengths, 0) - lengths
        positions = torch.arange(len(ids)) - torch.repeat_interleave(starts, lengths)
        layout = _layout(groups, device)
        type_ids = None
        if types:
            type_ids = to_device(torch.tensor([t for group in types for row in group for t in row]), device)
        hidden = self._embed(to_device(ids, device), to_device(positions, device), type_ids)
        for layer, (qkv_weight, qkv_bias) in zip(self.model.bert.encoder.layer, self.qkv, strict=True):
            hidden = self._layer(layer, qkv_weight, qkv_bias, hidden, layout)
        cls = hidden[to_device(starts, device)]
        pooler = self.model.bert.pooler
        pooled = pooler.activation(pooler.dense(cls))
        return self.model.classifier(pooled)

    def _embed(self, ids: torch.Tensor, positions: torch.Tensor, type_ids: torch.Tensor | None) -> torch.Tensor:
        embeddings = self.model.bert.embeddings
        # Without type ids, type 0 everywhere: single-text classification, as the model's own forward defaults to.
        token_types = (
            embeddings.token_type_embeddings.weight[0]
            if type_ids is None
            else embeddings.token_type_embeddings(type_ids)
        )
        summed = embeddings.word_embeddings(ids) + embeddings.position_embeddings(positions) + token_types
        return embeddings.LayerNorm(summed)

    def _layer(self, layer, qkv_weight, qkv_bias, hidden: torch.Tensor, layout: list[_Group]) -> torch.Tensor:
        qkv = F.linear(hidden, qkv_weight, qkv_bias)
        context = torch.cat([self._attend(qkv, group) for group in layout])
        attention = layer.attention.output
        attended = attention.LayerNorm(attention.dense(context) + hidden)
        intermediate = layer.intermediate.intermediate_act_fn(layer.intermediate.dense(attended))
        return layer.output.LayerNorm(layer.output.dense(intermediate) + attended)

    def _attend(self, qkv: torch.Tensor, group: _Group) -> torch.Tensor:
        """Self-attention within one group: `[group tokens, 3*hidden]` in, `[group tokens, hidden]` out."""
        packed = qkv[group.start : group.stop]
        width = packed.shape[-1]
        if group.slots is None:
            padded = packed
        else:
            padded = packed.new_zeros(group.rows * group.longest, width)
            padded[group.slots] = packed
        q, k, v = padded.view(group.rows, group.longest, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=group.key_mask)
        out = out.transpose(1, 2).reshape(group.rows * group.longest, width // 3)
        return out if group.slots is None else out[group.slots]


def _layout(groups: Sequence[Sequence[Sequence[int]]], device: torch.device) -> list[_Group]:
    layout, start = [], 0
    for group in groups:
        lengths = [len(row) for row in group]
        longest, stop = max(lengths), start + sum(lengths)
        if all(length == longest for length in lengths):
            layout.append(_Group(start, stop, len(group), longest, None, None))
        else:
            mask = torch.arange(longest)[None, :] < torch.tensor(lengths)[:, None]
            slots = torch.nonzero(mask.flatten()).flatten()
            layout.append(
                _Group(
                    start, stop, len(group), longest, to_device(slots, device), to_device(mask[:, None, None], device)
                )
            )
        start = stop
    return layout
