"""The fine-tuning loop: AdamW with linear warmup and decay over seeded shuffled batches.

With `frozen_layers = k > 0` the embeddings and the lower k encoder layers keep the base model's weights. Their
output for every training article is computed once, in inference mode and length-sorted batches, and each step
then runs (forward and backward) only the upper layers, the pooler and the classification head on those cached
states. The saved model is still the whole classifier; why the default freezes layers is in the model card.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional
from torch.nn.utils.rnn import pad_sequence
from tqdm import tqdm
from transformers import BertForSequenceClassification, get_linear_schedule_with_warmup
from transformers.masking_utils import create_bidirectional_mask

CACHE_BATCH_SIZE = 64


@dataclass(frozen=True)
class Hyperparameters:
    """Everything that shapes the trained weights (recorded in the model card)."""

    epochs: int
    max_length: int
    batch_size: int
    lr: float
    warmup_ratio: float
    weight_decay: float
    seed: int
    precision: str
    """`bf16` (autocast; the weights stay float32) or `fp32`; `auto` until `resolve_precision` decided."""
    frozen_layers: int
    """Lower encoder layers (with the embeddings) kept as the base has them; 0 trains every layer."""


DEFAULTS = Hyperparameters(epochs=1, max_length=64, batch_size=16, lr=3e-4, warmup_ratio=0.1, weight_decay=0.01,
                           seed=42, precision="fp32", frozen_layers=4)  # fmt: skip
"""The default model's settings (`make model`); why these: docs/reports/training-choices.md
(`python -m training.choices`)."""


def resolve_precision(requested: str) -> str:
    """`bf16` or `fp32`. `auto` picks bf16 only with native CPU bf16 support (the default is fp32: bf16
    autocast made the default's small steps slower even there, docs/reports/training-choices.md)."""
    if requested != "auto":
        return requested
    from bert_classifier.device import cpu_supports_bf16

    return "bf16" if cpu_supports_bf16() else "fp32"


def seed_everything(seed: int) -> None:
    """Seed every random number generator training touches."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class LoopTiming:
    """Wall-clock seconds of `fine_tune`: all of it, and the frozen layers' single pass within it."""

    seconds: float
    lower_pass_seconds: float
    steps: int


def fine_tune(
    model: BertForSequenceClassification, tokenizer, texts: Sequence[str], label_ids: Sequence[int], params
) -> LoopTiming:
    """Train `model` in place on the texts' first `max_length` tokens."""
    started = time.perf_counter()
    ids = tokenizer(list(texts), truncation=True, max_length=params.max_length)["input_ids"]
    labels = torch.tensor(label_ids)
    with autocast(params.precision):
        inputs = lower_states(model, tokenizer, ids, params.frozen_layers) if params.frozen_layers else None
    lower_pass = time.perf_counter() - started
    trainable = [parameter for parameter in model.parameters() if parameter.requires_grad]
    steps_per_epoch = -(-len(ids) // params.batch_size)
    total_steps = params.epochs * steps_per_epoch
    optimizer = torch.optim.AdamW(trainable, lr=params.lr, weight_decay=params.weight_decay)
    schedule = get_linear_schedule_with_warmup(optimizer, int(params.warmup_ratio * total_steps), total_steps)
    order = torch.Generator().manual_seed(params.seed)
    _train_mode(model, params.frozen_layers)
    # Off a terminal (CI logs) the bar is redrawn every 15 s instead of every step: a line per update there.
    refresh = 0.1 if sys.stderr.isatty() else 15.0
    with tqdm(total=total_steps, desc="fine-tuning", unit="batch", dynamic_ncols=True, mininterval=refresh) as bar:
        for epoch in range(1, params.epochs + 1):
            for batch in torch.randperm(len(ids), generator=order).split(params.batch_size):
                with autocast(params.precision):
                    if inputs is None:
                        logits = _full_forward(model, tokenizer, [ids[i] for i in batch])
                    else:
                        logits = upper_forward(model, [inputs[i] for i in batch], params.frozen_layers)
                loss = functional.cross_entropy(logits.float(), labels[batch])
                loss.backward()
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                bar.set_postfix(epoch=f"{epoch}/{params.epochs}", loss=f"{float(loss.detach()):.3f}", refresh=False)
                bar.update()
    model.eval()
    model.requires_grad_(True)
    return LoopTiming(time.perf_counter() - started, lower_pass, total_steps)


@torch.inference_mode()
def lower_states(model: BertForSequenceClassification, tokenizer, ids: list[list[int]], k: int) -> list[torch.Tensor]:
    """Freeze the embeddings and the lower `k` layers, and return their float32 output for every sequence
    (`[tokens, hidden]`, unpadded), computed once in length-sorted batches."""
    if not 0 < k <= model.config.num_hidden_layers:
        raise ValueError(f"frozen layers must be between 1 and {model.config.num_hidden_layers}, not {k}")
    model.bert.embeddings.requires_grad_(False)
    model.bert.encoder.layer[:k].requires_grad_(False)
    model.eval()
    layers = model.bert.encoder.layer
    model.bert.encoder.layer = layers[:k]  # the model's own forward (masks, embeddings) over the lower layers only
    try:
        states: list[torch.Tensor] = [torch.empty(0)] * len(ids)
        by_length = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(by_length), CACHE_BATCH_SIZE):
            group = by_length[start : start + CACHE_BATCH_SIZE]
            batch = tokenizer.pad({"input_ids": [ids[i] for i in group]}, return_tensors="pt")
            hidden = model.bert(**batch).last_hidden_state.float()
            for row, i in enumerate(group):
                states[i] = hidden[row, : len(ids[i])].clone()
    finally:
        model.bert.encoder.layer = layers
    return states


def upper_forward(model: BertForSequenceClassification, states: Sequence[torch.Tensor], k: int) -> torch.Tensor:
    """Logits from the cached output of the lower `k` layers: the upper layers, the pooler and the head."""
    hidden = pad_sequence(list(states), batch_first=True)
    present = pad_sequence([torch.ones(len(s), dtype=torch.long) for s in states], batch_first=True)
    mask = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=present)
    for layer in model.bert.encoder.layer[k:]:
        hidden = layer(hidden, mask)
    return model.classifier(model.dropout(model.bert.pooler(hidden)))


def _full_forward(model: BertForSequenceClassification, tokenizer, ids: list[list[int]]) -> torch.Tensor:
    return model(**tokenizer.pad({"input_ids": ids}, return_tensors="pt")).logits


def _train_mode(model: BertForSequenceClassification, k: int) -> None:
    """Dropout on in what trains; the frozen part's states are already computed."""
    model.train()
    if k:
        model.bert.embeddings.eval()
        model.bert.encoder.layer[:k].eval()


def autocast(precision: str):
    """bf16 autocast for `bf16`, nothing for `fp32`."""
    # autocast keeps the parameters (and so the saved weights) float32; only the matmuls run in bf16.
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
