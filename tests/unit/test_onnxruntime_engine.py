"""`OnnxRuntimeEngine` behind `TextClassifier`: the same answers as torch, its threads and session options."""

from __future__ import annotations

import pytest
import torch

from bert_classifier.engines.onnxruntime_engine import OnnxRuntimeEngine, session_options
from bert_classifier.model import TextClassifier
from bert_classifier.settings import Settings
from tests.unit.test_model import words

pytestmark = pytest.mark.unit

TEXTS = ["Shares rose.", words(40), words(300, 3), "The striker scored twice.", words(7, 5)]


@pytest.fixture(scope="module")
def reference(tiny_bert_dir) -> TextClassifier:
    return TextClassifier.load(tiny_bert_dir, Settings(engine="torch", precision="fp32"))


def on_onnx(model_dir, precision: str, **settings) -> TextClassifier:
    return TextClassifier.load(model_dir, Settings(engine="onnxruntime", precision=precision, **settings))


@pytest.mark.parametrize("settings", [{}, {"long_text": "window", "max_length": 64, "window_stride": 16}])
def test_fp32_scores_equal_torch_through_the_whole_classifier(tiny_onnx_model_dir, reference, settings):
    onnx = on_onnx(tiny_onnx_model_dir, "fp32", **settings)
    torch_fp32 = TextClassifier(reference.model, reference.tokenizer, reference.labels,
                                Settings(engine="torch", precision="fp32", **settings), False)  # fmt: skip
    assert onnx.engine.variant.name == "onnxruntime-fp32"
    assert onnx.forward_kind == "padded"
    ours, stats = onnx.classify(TEXTS)
    expected, _ = torch_fp32.classify(TEXTS)
    for got, want in zip(ours, expected, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=1e-5)
        assert got.truncated == want.truncated
    assert stats.padded_tokens >= stats.real_tokens  # each micro-batch padded to its longest


def test_int8_scores_are_close_to_fp32(tiny_onnx_model_dir, reference):
    ours, _ = on_onnx(tiny_onnx_model_dir, "int8").classify(TEXTS)
    expected, _ = reference.classify(TEXTS)
    for got, want in zip(ours, expected, strict=True):
        assert sum(got.scores) == pytest.approx(1.0, abs=1e-5)
        assert got.scores == pytest.approx(want.scores, abs=0.02)


def test_the_session_uses_the_workers_threads_one_inter_op_thread_and_no_spinning(tiny_onnx_model_dir):
    previous = torch.get_num_threads()
    torch.set_num_threads(3)  # what the handler sets from threads_per_worker
    try:
        engine = on_onnx(tiny_onnx_model_dir, "fp32").engine
    finally:
        torch.set_num_threads(previous)
    options = engine.session.get_session_options()
    assert (engine.threads, options.intra_op_num_threads, options.inter_op_num_threads) == (3, 3, 1)
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.get_session_config_entry("session.inter_op.allow_spinning") == "0"


def test_session_options_follow_the_thread_count():
    assert session_options(1).intra_op_num_threads == 1
    assert session_options(4).intra_op_num_threads == 4


def test_an_onnx_file_with_other_inputs_is_refused(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["logits"])], "other",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1])],
    )  # fmt: skip
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), tmp_path / "model.onnx")
    with pytest.raises(ValueError, match="expected"):
        OnnxRuntimeEngine(tmp_path / "model.onnx", "fp32", 1)
