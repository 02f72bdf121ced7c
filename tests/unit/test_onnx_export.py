"""`tools.onnx_export` on the tiny model: the fp32 export is the model (dynamic batch and sequence axes) with its
attention fused where ONNX Runtime can fuse it, else the plain export; the int8 copy is quantized and close to it."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from transformers import AutoModelForSequenceClassification

from tests.conftest import save_tiny_bert
from tools import onnx_export
from tools.onnx_export import DYNAMO_EXPORTER, PARITY_TOLERANCE, _example, check_parity, export_fused, export_onnx

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def torch_model(tiny_bert_dir):
    return AutoModelForSequenceClassification.from_pretrained(str(tiny_bert_dir)).eval()


def run(path, inputs: dict[str, torch.Tensor]) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: value.numpy() for name, value in inputs.items()})[0]


def test_the_export_takes_token_ids_a_mask_and_token_types_of_any_batch_and_length(tiny_engines_dir):
    session = onnxruntime.InferenceSession(str(tiny_engines_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}  # BERT's tokenizer gives types
    assert all(isinstance(size, str) for i in inputs.values() for size in i.shape)  # symbolic: batch, sequence
    assert [o.name for o in session.get_outputs()] == ["logits"]


@pytest.mark.parametrize("pairs", [False, True])
@pytest.mark.parametrize("lengths", [[2], [5, 5, 5], [61, 30, 7, 3], [9] * 17])
def test_fp32_logits_equal_the_torch_model_on_padded_batches(tiny_engines_dir, torch_model, lengths, pairs):
    inputs = _example(len(lengths), lengths, torch_model.config.vocab_size, with_types=True)
    if not pairs:
        inputs["token_type_ids"] = torch.zeros_like(inputs["token_type_ids"])
    with torch.inference_mode():
        expected = torch_model(**inputs).logits.numpy()
    np.testing.assert_allclose(run(tiny_engines_dir / "model.onnx", inputs), expected, atol=1e-5)


def test_int8_is_quantized_smaller_and_close(tiny_engines_dir, torch_model):
    fp32, int8 = tiny_engines_dir / "model.onnx", tiny_engines_dir / "model-int8.onnx"
    ops = {node.op_type for node in onnx.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    assert int8.stat().st_size < 0.5 * fp32.stat().st_size
    inputs = _example(3, [20, 11, 4], torch_model.config.vocab_size, with_types=True)
    np.testing.assert_allclose(run(int8, inputs), run(fp32, inputs), atol=0.05)


def test_the_parity_check_catches_an_export_of_another_model(tiny_engines_dir, torch_model, tmp_path):
    other = AutoModelForSequenceClassification.from_pretrained(
        str(save_tiny_bert(tmp_path / "other", seed=7, initializer_range=0.5))
    ).eval()
    assert check_parity(torch_model, tiny_engines_dir / "model.onnx") < PARITY_TOLERANCE
    assert check_parity(other, tiny_engines_dir / "model.onnx") > PARITY_TOLERANCE


def op_counts(path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for node in onnx.load(str(path)).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts


def test_a_bert_export_has_one_fused_attention_per_layer_and_int8_quantizes_it(tiny_engines_dir, torch_model):
    layers = torch_model.config.num_hidden_layers
    assert op_counts(tiny_engines_dir / "model.onnx").get("Attention") == layers
    assert op_counts(tiny_engines_dir / "model-int8.onnx").get("QAttention") == layers


def test_when_the_attention_does_not_fuse_the_plain_export_is_written(
    tiny_bert_dir, torch_model, tmp_path, monkeypatch
):
    class Unfused:
        def get_fused_operator_statistics(self):
            return {"Attention": 0}

    monkeypatch.setattr(onnx_export, "_optimize", lambda *args: Unfused())
    export = export_onnx(tiny_bert_dir, tmp_path)
    assert export.exporter == DYNAMO_EXPORTER
    assert "Attention" not in op_counts(export.files["fp32"])
    assert export.parity < PARITY_TOLERANCE


def test_a_fused_export_that_fails_or_differs_from_the_model_is_not_kept(tiny_bert_dir, tmp_path, monkeypatch):
    other = AutoModelForSequenceClassification.from_pretrained(
        str(save_tiny_bert(tmp_path / "other", seed=7, initializer_range=0.5))
    ).eval()
    target = tmp_path / "model.onnx"
    assert export_fused(tiny_bert_dir, other, target, with_types=True) is None  # traced from another model
    assert not target.exists()

    def fail(*args):
        raise RuntimeError("exporter failed")

    monkeypatch.setattr(onnx_export, "_export_torchscript", fail)
    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_bert_dir)).eval()
    assert export_fused(tiny_bert_dir, model, target, with_types=True) is None
    assert not target.exists()
