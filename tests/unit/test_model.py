"""`TextClassifier` on the tiny random BERT: scores, order, truncation, windows, padding, multi-label."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from bert_classifier.device import cpu_supports_bf16
from bert_classifier.errors import InvalidArtifacts
from bert_classifier.model import BatchStats, TextClassifier
from bert_classifier.settings import Settings
from tests.conftest import TINY_LABELS, save_tiny_bert

pytestmark = pytest.mark.unit

WORDS = (
    *("the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "seven", "wizards"),
    *("quietly", "judge", "boxing", "matches", "near", "frozen", "lakes", "and", "markets", "rally"),
    *("after", "strong", "earnings", "from", "chip", "makers"),
)


# Exact comparisons need fp32: `auto` is bf16 on CPUs with native bf16 (tested in test_device.py).
FP32 = Settings(precision="fp32")


def words(count: int, start: int = 0) -> str:
    """`count` distinct-ish single-token words (the uncased vocabulary has each of these as one token)."""
    return " ".join(WORDS[(start + i) % len(WORDS)] for i in range(count))


@pytest.fixture(scope="module")
def classifier(tiny_bert_dir) -> TextClassifier:
    return TextClassifier.load(tiny_bert_dir, FP32)


@pytest.fixture(scope="module")
def sharp_bert_dir(tmp_path_factory):
    """Like the tiny model, but with large random weights: different inputs get clearly different scores."""
    return save_tiny_bert(tmp_path_factory.mktemp("sharp-bert"), seed=1, initializer_range=0.5)


@pytest.fixture(scope="module")
def sharp(sharp_bert_dir) -> TextClassifier:
    return TextClassifier.load(sharp_bert_dir, FP32)


@pytest.fixture(scope="module")
def plain_transformers(sharp_bert_dir):
    """The sharp model and tokenizer loaded by plain transformers, without our loader."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(sharp_bert_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(sharp_bert_dir)).eval()
    return model, tokenizer


def variant(base: TextClassifier, **settings) -> TextClassifier:
    """The same loaded model and tokenizer with other settings (loading again would only cost time)."""
    return TextClassifier(
        base.model, base.tokenizer, base.labels, Settings(**{"precision": "fp32", **settings}), base.multi_label
    )


def token_count(classifier: TextClassifier, text: str) -> int:
    return len(classifier.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_words_helper_gives_one_token_per_word(classifier):
    assert token_count(classifier, words(40)) == 40


def test_load_reads_labels_and_runs_on_cpu_in_fp32(classifier):
    assert classifier.labels == TINY_LABELS
    assert classifier.multi_label is False
    assert classifier.device.type == "cpu"
    assert classifier.engine.variant.name == "torch-fp32"


def test_load_validates_the_artifacts_first(tmp_path, tiny_bert_dir):
    broken = shutil.copytree(tiny_bert_dir, tmp_path / "model")
    (broken / "model.safetensors").unlink()

    with pytest.raises(InvalidArtifacts, match=r"model\.safetensors"):
        TextClassifier.load(broken, Settings())


def test_scores_are_a_softmax_with_one_entry_per_label(classifier):
    results, stats = classifier.classify(["Stocks rallied today.", "The match ended in a draw.", "x"])

    assert len(results) == 3
    for result in results:
        assert len(result.scores) == len(TINY_LABELS)
        assert math.isclose(sum(result.scores), 1.0, abs_tol=1e-5)
        assert all(0.0 <= score <= 1.0 for score in result.scores)
    assert stats.texts == 3


def test_no_texts_gives_no_results(classifier):
    results, stats = classifier.classify([])

    assert results == []
    assert stats.micro_batches == 0


def test_results_follow_input_order_across_very_different_lengths(sharp):
    # A small budget forces several micro-batches, which are built longest first.
    classifier = variant(sharp, max_length=64, window_stride=16, token_budget=64)
    texts = ["short", words(60, 3), "a somewhat longer text here", words(25, 7), "x", words(45, 1)]

    together, stats = classifier.classify(texts)

    assert stats.micro_batches > 1
    alone = [classifier.classify([text])[0][0] for text in texts]
    for batched, single in zip(together, alone, strict=True):
        assert batched.scores == pytest.approx(single.scores, abs=1e-5)
    # ...and the texts really score differently, so a permutation would have been caught.
    assert len({tuple(round(s, 3) for s in result.scores) for result in alone}) == len(texts)


@pytest.mark.parametrize("packing", ["auto", "off"])
def test_batched_scores_do_not_depend_on_padding(sharp, packing):
    classifier = variant(sharp, packing=packing)
    short, long = words(60, start=7), words(100)  # within 2x, so they share a micro-batch

    together, stats = classifier.classify([short, long])

    assert stats.micro_batches == 1
    assert together[0].scores == pytest.approx(classifier.classify([short])[0][0].scores, abs=1e-5)


@pytest.mark.parametrize(("tokens", "truncated"), [(1, False), (13, False), (14, False), (15, True), (80, True)])
def test_truncated_flag_is_set_only_over_max_length(classifier, tokens, truncated):
    # max_length 16 leaves room for 14 tokens between [CLS] and [SEP].
    local = variant(classifier, max_length=16, window_stride=4)

    results, stats = local.classify([words(tokens)])

    assert results[0].truncated is truncated
    assert stats.truncated == int(truncated)
    assert stats.real_tokens == min(tokens, 14) + 2


def test_truncation_counts_each_truncated_text(classifier):
    local = variant(classifier, max_length=16, window_stride=4)

    results, stats = local.classify([words(30), "short", words(20)])

    assert [result.truncated for result in results] == [True, False, True]
    assert stats.truncated == 2


def test_truncate_mode_reads_only_the_first_max_length_tokens(sharp):
    classifier = variant(sharp, max_length=16, window_stride=4)

    head_only = classifier.classify([words(14)])[0][0]
    longer = classifier.classify([words(14) + " " + words(30, 5)])[0][0]

    assert longer.scores == pytest.approx(head_only.scores, abs=1e-5)


def test_window_mode_scores_a_long_text_differently_from_truncate(sharp):
    text = words(40)
    truncate = variant(sharp, max_length=16, window_stride=4)
    window = variant(sharp, max_length=16, window_stride=4, long_text="window", max_windows=8)

    truncated_result = truncate.classify([text])[0][0]
    windowed_result, stats = window.classify([text])

    assert truncated_result.truncated is True
    assert windowed_result[0].truncated is False  # 40 tokens fit in 4 windows of 14 with overlap 4
    assert stats.segments == 4
    assert math.isclose(sum(windowed_result[0].scores), 1.0, abs_tol=1e-5)
    assert max(abs(a - b) for a, b in zip(windowed_result[0].scores, truncated_result.scores, strict=True)) > 1e-3


def test_window_mode_is_the_mean_of_the_windows(sharp):
    classifier = variant(sharp, max_length=16, window_stride=4, long_text="window")
    tokens = classifier.tokenizer(words(24), add_special_tokens=False)["input_ids"]
    first, second = (classifier.tokenizer.decode(tokens[:14]), classifier.tokenizer.decode(tokens[10:24]))

    windowed = classifier.classify([words(24)])[0][0]
    parts = [classifier.classify([part])[0][0].scores for part in (first, second)]

    expected = [(a + b) / 2 for a, b in zip(*parts, strict=True)]
    assert windowed.scores == pytest.approx(expected, abs=1e-5)


def test_window_mode_sets_truncated_only_when_max_windows_is_exceeded(classifier):
    capped = variant(classifier, max_length=16, window_stride=4, long_text="window", max_windows=2)

    results, stats = capped.classify([words(40), words(24), "short"])

    # 40 tokens need 4 windows (> 2); 24 tokens need exactly 2; "short" needs 1.
    assert [result.truncated for result in results] == [True, False, False]
    assert stats.segments == 2 + 2 + 1
    assert stats.truncated == 1


def test_window_mode_short_text_matches_truncate_mode(sharp):
    text = words(10)
    truncate = variant(sharp, max_length=16, window_stride=4)
    window = variant(sharp, max_length=16, window_stride=4, long_text="window")

    assert window.classify([text])[0][0].scores == pytest.approx(truncate.classify([text])[0][0].scores, abs=1e-6)


def test_padding_stats_count_pad_tokens(classifier):
    classifier = variant(classifier, packing="off")  # padded: pad tokens reach the matmuls
    _, stats = classifier.classify([words(20), words(30)])

    assert stats.micro_batches == 1
    assert stats.real_tokens == (20 + 2) + (30 + 2)
    assert stats.padded_tokens == 2 * (30 + 2)
    assert stats.padded_tokens > stats.real_tokens
    assert stats.padding_ratio == pytest.approx((64 - 54) / 54)


def test_a_much_shorter_text_gets_its_own_micro_batch_instead_of_padding(classifier):
    classifier = variant(classifier, packing="off")  # padded: pad tokens reach the matmuls
    _, stats = classifier.classify(["short", words(30)])

    assert stats.micro_batches == 2
    assert stats.padded_tokens == stats.real_tokens


def test_no_padding_when_all_lengths_are_equal(classifier):
    classifier = variant(classifier, packing="off")  # padded: pad tokens reach the matmuls
    _, stats = classifier.classify([words(12, start) for start in range(5)])

    assert stats.padded_tokens == stats.real_tokens == 5 * 14
    assert stats.padding_ratio == 0.0


def test_token_budget_splits_micro_batches(classifier):
    local = variant(classifier, max_length=16, window_stride=4, token_budget=32, packing="off")

    _, stats = local.classify([words(14, start) for start in range(4)])

    assert stats.micro_batches == 2  # 2 rows x 16 tokens per micro-batch
    assert stats.padded_tokens >= stats.real_tokens


def test_padding_ratio_of_empty_stats_is_zero():
    assert BatchStats().padding_ratio == 0.0


def test_multi_label_model_gives_independent_sigmoid_scores(tmp_path):
    model_dir = save_tiny_bert(tmp_path / "multi", seed=2, problem_type="multi_label_classification")
    classifier = TextClassifier.load(model_dir, Settings())

    results, _ = classifier.classify(["markets rally after strong earnings", "x"])

    assert classifier.multi_label is True
    for result in results:
        assert len(result.scores) == len(TINY_LABELS)
        assert all(0.0 < score < 1.0 for score in result.scores)
        assert abs(sum(result.scores) - 1.0) > 0.1  # three sigmoids near 0.5 sum to about 1.5


def test_scores_equal_a_plain_transformers_forward_pass(sharp, plain_transformers):
    model, tokenizer = plain_transformers
    text = "Chip makers rallied after strong earnings."
    with torch.no_grad():
        expected = model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0].tolist()

    ours = sharp.classify([text])[0][0]

    assert ours.scores == pytest.approx(expected, abs=1e-5)
    assert ours.truncated is False


def test_scores_differ_from_a_forward_pass_without_special_tokens(sharp, plain_transformers):
    # Guards the test above: if [CLS]/[SEP] did not change the scores, it would prove nothing.
    model, tokenizer = plain_transformers
    text = "Chip makers rallied after strong earnings."
    with torch.no_grad():
        encoded = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        without_special = model(**encoded).logits.softmax(-1)[0].tolist()

    ours = sharp.classify([text])[0][0]

    assert max(abs(a - b) for a, b in zip(ours.scores, without_special, strict=True)) > 1e-3


SIMILAR = [words(5 + i, start=i) for i in range(6)]  # one micro-batch
DIFFERENT = ["short", words(40), words(41, 2)]  # two micro-batches, one packed forward


@pytest.mark.parametrize(
    ("packing", "texts", "sizes"),
    [("off", SIMILAR, [6, 3, 3]), ("auto", SIMILAR, [6, 3, 3]), ("auto", DIFFERENT, [3, 2, 1])],
)
def test_cuda_out_of_memory_splits_the_rows_once_with_the_same_results(sharp, monkeypatch, packing, texts, sizes):
    classifier = variant(sharp, packing=packing)
    expected, _ = classifier.classify(texts)
    real_forward = classifier._forward
    seen_sizes = []

    def forward_that_runs_out_of_memory_on_big_batches(groups, types=None):
        rows = sum(len(group) for group in groups)
        seen_sizes.append(rows)
        if rows > len(texts) // 2 + 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_forward(groups, types)

    monkeypatch.setattr(classifier, "_forward", forward_that_runs_out_of_memory_on_big_batches)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    results, _ = classifier.classify(texts)
    assert seen_sizes == sizes
    for got, want in zip(results, expected, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=1e-6)


def test_cuda_out_of_memory_is_raised_when_the_halves_do_not_fit_either(sharp, monkeypatch):
    def always_out_of_memory(groups, types=None):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(sharp, "_forward", always_out_of_memory)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        sharp.classify([words(5), words(6), words(7)])


@pytest.mark.skipif(not cpu_supports_bf16(), reason="this CPU has no native bf16")
def test_bf16_casts_the_weights_once_at_load_and_returns_fp32_probabilities_close_to_fp32(tiny_bert_dir, classifier):
    """ "Once": the weights are bf16 from the load on, the same tensors after every batch (nothing re-casts them),
    and no forward runs under autocast (which would cast every weight again on every call)."""
    bf16 = TextClassifier.load(tiny_bert_dir, Settings(precision="bf16"))
    texts = [words(5), words(40, start=3), "Chip makers rallied after strong earnings.", *map(words, range(1, 20))]
    weights = {name: parameter.data_ptr() for name, parameter in bf16.model.named_parameters()}
    autocast_seen = []
    hook = bf16.model.classifier.register_forward_hook(
        lambda module, inputs, output: autocast_seen.append(torch.is_autocast_enabled("cpu"))
    )
    try:
        ours = bf16.classify(texts)[0] + bf16.classify(texts[:3])[0]
    finally:
        hook.remove()

    assert {parameter.dtype for parameter in bf16.model.parameters()} == {torch.bfloat16}
    assert {name: parameter.data_ptr() for name, parameter in bf16.model.named_parameters()} == weights
    assert autocast_seen
    assert not any(autocast_seen)
    scores = torch.tensor([score for result in ours for score in result.scores])
    assert not torch.equal(scores.bfloat16().float(), scores), "probabilities computed in bf16, not fp32"
    reference = classifier.classify(texts)[0] + classifier.classify(texts[:3])[0]
    for low, full in zip(ours, reference, strict=True):
        assert sum(low.scores) == pytest.approx(1.0, abs=1e-6)  # softmax of fp32 logits
        assert low.scores == pytest.approx(full.scores, abs=1e-3)  # measured: within 1e-4 on this model
