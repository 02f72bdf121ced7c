"""training.loop: the cached lower layers give the model's own answers, and only the upper part trains."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, BertForSequenceClassification

from training.loop import Hyperparameters, fine_tune, lower_states, upper_forward

pytestmark = pytest.mark.unit

TEXTS = ["Shares fell after the warning.", "The striker scored twice in the final minutes of the match.", "New phone"]


def params(frozen_layers: int, epochs: int = 1) -> Hyperparameters:
    return Hyperparameters(epochs=epochs, max_length=16, batch_size=2, lr=1e-2, warmup_ratio=0.0, weight_decay=0.0,
                           seed=0, precision="fp32", frozen_layers=frozen_layers)  # fmt: skip


@pytest.fixture
def tiny(tiny_bert_dir):
    """A fresh copy of the tiny 2-layer model (training changes it) and its tokenizer."""
    return BertForSequenceClassification.from_pretrained(tiny_bert_dir), AutoTokenizer.from_pretrained(tiny_bert_dir)


@pytest.mark.parametrize("k", [1, 2])
def test_cached_lower_layers_plus_upper_forward_is_the_models_own_forward(tiny, k):
    model, tokenizer = tiny
    model.eval()
    ids = tokenizer(TEXTS, truncation=True, max_length=16)["input_ids"]
    with torch.inference_mode():
        expected = model(**tokenizer.pad({"input_ids": ids}, return_tensors="pt")).logits
        states = lower_states(model, tokenizer, ids, k)
        logits = upper_forward(model, states, k)
    assert [len(state) for state in states] == [len(row) for row in ids]  # unpadded
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-4)


def snapshot(model) -> dict[str, torch.Tensor]:
    return {name: parameter.detach().clone() for name, parameter in model.named_parameters()}


def changed(before: dict, model, prefix: str) -> bool:
    return any(not torch.equal(before[n], p) for n, p in model.named_parameters() if n.startswith(prefix))


def test_frozen_layers_keep_the_base_weights_and_the_rest_trains(tiny):
    model, tokenizer = tiny
    before = snapshot(model)
    fine_tune(model, tokenizer, TEXTS, [0, 1, 2], params(frozen_layers=1, epochs=2))
    assert not changed(before, model, "bert.embeddings.")
    assert not changed(before, model, "bert.encoder.layer.0.")
    assert changed(before, model, "bert.encoder.layer.1.")
    assert changed(before, model, "bert.pooler.")
    assert changed(before, model, "classifier.")
    assert all(parameter.requires_grad for parameter in model.parameters())  # a normal model again
    assert not model.training


def test_no_frozen_layers_trains_everything(tiny):
    model, tokenizer = tiny
    before = snapshot(model)
    fine_tune(model, tokenizer, TEXTS, [0, 1, 2], params(frozen_layers=0))
    assert changed(before, model, "bert.embeddings.")
    assert changed(before, model, "bert.encoder.layer.0.")


@pytest.mark.parametrize("k", [0, 3])
def test_lower_states_needs_a_layer_count_the_model_has(tiny, k):
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="frozen layers must be between 1 and 2"):
        lower_states(model, tokenizer, [[101, 102]], k)
