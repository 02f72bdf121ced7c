"""`PackedBert` and token packing in `TextClassifier`: the same scores as the model's own padded forward."""

from __future__ import annotations

import pytest
import torch

from bert_classifier import model as model_module
from bert_classifier.model import TextClassifier
from bert_classifier.packed import PackedBert, packing_unsupported
from bert_classifier.settings import Settings
from tests.unit.test_model import words

pytestmark = pytest.mark.unit

FP32 = Settings(precision="fp32")


@pytest.fixture(scope="module")
def sharp(tmp_path_factory) -> TextClassifier:
    """Large random weights, so that a wrong token, position or mask changes the scores clearly."""
    from tests.conftest import save_tiny_bert

    return TextClassifier.load(save_tiny_bert(tmp_path_factory.mktemp("sharp"), seed=3, initializer_range=0.5), FP32)


def with_settings(base: TextClassifier, **settings) -> TextClassifier:
    return TextClassifier(base.model, base.tokenizer, base.labels, Settings(**{"precision": "fp32", **settings}), False)


def padded_logits(classifier: TextClassifier, rows: list[list[int]]) -> torch.Tensor:
    """The model's own forward, one row at a time: no padding at all."""
    with torch.inference_mode():
        return torch.cat([classifier.model(input_ids=torch.tensor([row])).logits for row in rows])


def token_rows(classifier: TextClassifier, texts: list[str]) -> list[list[int]]:
    return classifier.tokenizer(texts)["input_ids"]


def test_packed_logits_equal_the_models_own_forward_row_by_row(sharp):
    # Two groups, each with rows of different lengths (padding inside attention), in longest-first order.
    groups = [
        token_rows(sharp, [words(30), words(22, 3), words(17, 5)]),
        token_rows(sharp, ["short", "x"]),
    ]

    with torch.inference_mode():
        packed = PackedBert(sharp.model).logits(groups)

    expected = padded_logits(sharp, [row for group in groups for row in group])
    assert packed.shape == expected.shape
    torch.testing.assert_close(packed, expected, atol=1e-5, rtol=1e-4)
    assert len({tuple(row.round(decimals=3).tolist()) for row in expected}) == 5  # a permutation would show


def test_classify_packed_equals_classify_padded_on_mixed_lengths_and_windows(sharp):
    texts = ["short", words(60, 3), "a somewhat longer text here", words(25, 7), "x", words(45, 1), words(90)]
    for extra in ({"max_length": 64}, {"long_text": "window", "max_length": 32, "window_stride": 8}):
        packed, packed_stats = with_settings(sharp, token_budget=64, **extra).classify(texts)
        padded, padded_stats = with_settings(sharp, token_budget=64, packing="off", **extra).classify(texts)

        assert packed_stats.micro_batches == padded_stats.micro_batches > 1
        for a, b in zip(packed, padded, strict=True):
            assert a.scores == pytest.approx(b.scores, abs=1e-5)
            assert a.truncated == b.truncated


def test_packed_matmuls_see_no_pad_token(sharp):
    classifier = with_settings(sharp)
    _, stats = classifier.classify([words(20), words(30)])

    assert classifier.forward_kind == "packed"
    assert stats.padded_tokens == stats.real_tokens == 22 + 32
    assert stats.padding_ratio == 0.0


def test_a_batch_over_max_packed_tokens_is_split_into_several_forwards(sharp, monkeypatch):
    classifier = with_settings(sharp, max_length=64, token_budget=64)
    texts = [words(20 + i, i) for i in range(8)]
    expected, _ = classifier.classify(texts)
    forwards = []
    real_logits = classifier.engine.packed_bert.logits

    def counting_logits(groups, types=None):
        forwards.append(sum(len(row) for group in groups for row in group))
        return real_logits(groups, types)

    monkeypatch.setattr(model_module, "MAX_PACKED_TOKENS", 100)
    monkeypatch.setattr(classifier.engine.packed_bert, "logits", counting_logits)
    results, _ = classifier.classify(texts)

    assert len(forwards) > 1
    assert all(tokens <= 100 for tokens in forwards)
    assert sum(forwards) == sum(20 + i + 2 for i in range(8))
    for got, want in zip(results, expected, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=1e-5)


def test_packing_off_runs_the_models_own_forward(sharp):
    assert with_settings(sharp, packing="off").forward_kind == "padded"
    assert with_settings(sharp, packing="off").engine.packed_bert is None


def test_bert_sequence_classifiers_are_supported(sharp):
    assert packing_unsupported(sharp.model) is None


def test_other_architectures_fall_back_to_the_padded_forward(sharp):
    from transformers import DistilBertConfig, DistilBertForSequenceClassification

    config = DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=3)
    distil = DistilBertForSequenceClassification(config).eval()

    classifier = TextClassifier(distil, sharp.tokenizer, sharp.labels, FP32, multi_label=False)

    assert packing_unsupported(distil) == "model_type is not bert"
    assert classifier.forward_kind == "padded"
    results, _ = classifier.classify(["short", words(30)])
    assert [len(result.scores) for result in results] == [3, 3]
    with pytest.raises(TypeError, match="model_type is not bert"):
        PackedBert(distil)


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"position_embedding_type": "relative_key"}, "position_embedding_type is not absolute"),
        ({"is_decoder": True}, "a decoder or cross-attention model"),
    ],
)
def test_bert_variants_the_packed_forward_does_not_implement_are_refused(override, reason):
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(
        vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, **override
    )

    assert packing_unsupported(BertForSequenceClassification(config)) == reason
