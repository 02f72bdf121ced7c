"""Text pairs through `TextClassifier`: encoded exactly as `tokenizer(a, b, truncation="longest_first")`, scored as
transformers scores them (packed, padded and ONNX Runtime), `window` mode refusing what it cannot read whole."""

from __future__ import annotations

import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_classifier.errors import InvalidInput, NotSupported
from bert_classifier.model import TextClassifier
from bert_classifier.pairs import PairTemplate, longest_first
from bert_classifier.settings import Settings
from tests.conftest import TINY_LABELS
from tests.unit.test_model import WORDS, words

pytestmark = pytest.mark.unit

PAIRS = [
    ("A man is playing a guitar.", "Someone plays an instrument."),
    ("Shares fell after the profit warning.", "The striker scored twice."),
    (words(44), words(5, 3)),
    (words(7), words(60, 2)),
]


@pytest.fixture(scope="module")
def tokenizer(tiny_bert_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert_dir))


@pytest.fixture(scope="module")
def reference(tiny_bert_dir):
    from transformers import AutoModelForSequenceClassification

    return AutoModelForSequenceClassification.from_pretrained(str(tiny_bert_dir)).eval()


def roberta_style_tokenizer():
    """A tokenizer with RoBERTa's post-processor (`<s> a </s></s> b </s>`) and no token type ids."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(["<s>", "<pad>", "</s>", "<unk>", "a", "b", *WORDS])}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="<unk>", pad_token="<pad>")
    tokenizer.model_input_names = ["input_ids", "attention_mask"]
    return tokenizer


def test_the_template_is_read_from_the_tokenizer(tokenizer):
    bert = PairTemplate.of(tokenizer)
    assert bert.row([7, 8], [9]) == ([101, 7, 8, 102, 9, 102], (0, 0, 0, 0, 1, 1))
    roberta = PairTemplate.of(roberta_style_tokenizer())
    assert roberta.row([7, 8], [9]) == ([0, 7, 8, 2, 2, 9, 2], None)
    assert (bert.specials, roberta.specials) == (3, 4)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 50))
def test_longest_first_keeps_what_the_tokenizers_truncation_keeps(tokenizer, first, second, room):
    a, b = words(first), words(second, 5)  # one token per word
    expected = tokenizer(a, b, truncation="longest_first", max_length=room + 3)["token_type_ids"]
    assert longest_first(first, second, room) == (expected.count(0) - 2, expected.count(1) - 1)


@pytest.mark.parametrize("make", [lambda tokenizer: tokenizer, lambda tokenizer: roberta_style_tokenizer()])
@pytest.mark.parametrize("max_length", [8, 13, 24, 64])
def test_pairs_encode_as_transformers_encodes_them(tokenizer, make, max_length):
    """Random pairs, odd and even room, either text the longer: the same ids and types as `tokenizer(a, b)`."""
    from bert_classifier.segments import Segmenter

    tokenizer = make(tokenizer)
    segmenter = Segmenter(tokenizer, Settings(max_length=max_length))
    generator = random.Random(max_length)
    firsts = [words(generator.randint(1, 40), generator.randint(0, 9)) for _ in range(12)]
    seconds = [words(generator.randint(1, 40), generator.randint(0, 9)) for _ in range(12)]
    encoded = segmenter.encode(firsts, seconds)
    for segment, a, b, truncated in zip(encoded.segments, firsts, seconds, encoded.truncated, strict=True):
        expected = tokenizer(a, b, truncation="longest_first", max_length=max_length)
        assert segment.token_ids == expected["input_ids"]
        assert segment.type_ids == (tuple(expected["token_type_ids"]) if "token_type_ids" in expected else None)
        whole = tokenizer(a, b)["input_ids"]
        assert truncated == (len(whole) > max_length)
    assert encoded.pairs == 12


def test_a_request_may_mix_single_texts_and_pairs(tiny_bert_dir, tokenizer):
    classifier = TextClassifier.load(tiny_bert_dir, Settings(precision="fp32"))
    encoded = classifier.encode(["one text", "first", "another text"], [None, "second", None])
    assert [segment.token_ids for segment in encoded.segments] == [
        tokenizer("one text")["input_ids"],
        tokenizer("first", "second")["input_ids"],
        tokenizer("another text")["input_ids"],
    ]
    assert [segment.type_ids for segment in encoded.segments] == [None, (0, 0, 0, 1, 1), None]
    assert encoded.pairs == 1


@pytest.mark.parametrize("packing", ["auto", "off"])
def test_pair_scores_equal_transformers_packed_and_padded(tiny_bert_dir, tokenizer, reference, packing):
    classifier = TextClassifier.load(tiny_bert_dir, Settings(precision="fp32", packing=packing, max_length=48))
    assert classifier.forward_kind == ("packed" if packing == "auto" else "padded")
    texts, pairs = [a for a, _ in PAIRS] + ["a single text"], [b for _, b in PAIRS] + [None]
    scores, stats = classifier.score([classifier.encode(texts, pairs)])
    inputs = [tokenizer(a, b, truncation="longest_first", max_length=48, return_tensors="pt") for a, b in PAIRS]
    inputs.append(tokenizer("a single text", return_tensors="pt"))
    with torch.inference_mode():
        expected = [torch.softmax(reference(**item).logits[0], -1).tolist() for item in inputs]
    for got, want in zip(scores[0], expected, strict=True):
        assert got.scores == pytest.approx(want, abs=1e-5)
    assert [s.truncated for s in scores[0]] == [False, False, True, True, False]
    assert stats.pairs == 4


def test_token_types_change_the_scores(tiny_bert_dir, tokenizer):
    """The pair's second text is read as type 1: dropping the types (as a single text would) changes the scores."""
    classifier = TextClassifier.load(tiny_bert_dir, Settings(precision="fp32"))
    pair = classifier.score([classifier.encode(["first text here"], ["second text here"])])[0][0][0]
    ids = tokenizer("first text here", "second text here")["input_ids"]
    untyped = classifier._forward([[ids]])[0].tolist()
    assert pair.scores != pytest.approx(untyped, abs=1e-6)


def test_onnx_runtime_scores_pairs_as_torch(tiny_onnx_model_dir):
    onnx = TextClassifier.load(tiny_onnx_model_dir, Settings(engine="onnxruntime", precision="fp32"))
    torch_fp32 = TextClassifier.load(tiny_onnx_model_dir, Settings(engine="torch", precision="fp32"))
    texts, pairs = [a for a, _ in PAIRS], [b for _, b in PAIRS]
    ours = onnx.score([onnx.encode(texts, pairs)])[0][0]
    expected = torch_fp32.score([torch_fp32.encode(texts, pairs)])[0][0]
    for got, want in zip(ours, expected, strict=True):
        assert got.scores == pytest.approx(want.scores, abs=1e-5)


def test_an_onnx_export_without_token_types_refuses_pairs_instead_of_misreading_them(tiny_onnx_model_dir):
    onnx = TextClassifier.load(tiny_onnx_model_dir, Settings(engine="onnxruntime", precision="fp32"))
    onnx.engine.takes_types = False  # what an export made before pairs were supported declares
    with pytest.raises(NotSupported, match="cannot score text pairs"):
        onnx.score([onnx.encode(["first"], ["second"])])


def test_window_mode_refuses_a_pair_longer_than_max_length_and_says_why(tiny_bert_dir):
    settings = Settings(precision="fp32", long_text="window", max_length=16, window_stride=4)
    classifier = TextClassifier.load(tiny_bert_dir, settings)
    fits = classifier.encode([words(5)], [words(6)])
    assert fits.truncated == (False,)
    with pytest.raises(InvalidInput, match=r"text pair 1 is longer than max_length=16.*long_text: truncate"):
        classifier.encode([words(3), words(10)], [words(3), words(10)])


def test_a_one_logit_cross_encoder_scores_its_logits_sigmoid(tmp_path, tokenizer):
    from tests.conftest import save_tiny_bert

    folder = save_tiny_bert(tmp_path / "cross-encoder", labels=("LABEL_0",), seed=3, initializer_range=0.5)
    classifier = TextClassifier.load(folder, Settings(precision="fp32"))
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    scores = classifier.score([classifier.encode([a for a, _ in PAIRS[:2]], [b for _, b in PAIRS[:2]])])[0][0]
    for got, (a, b) in zip(scores, PAIRS[:2], strict=True):
        with torch.inference_mode():
            logit = model(**tokenizer(a, b, return_tensors="pt")).logits[0, 0]
        assert got.scores == pytest.approx([torch.sigmoid(logit).item()], abs=1e-6)
    assert scores[0].scores != scores[1].scores  # a softmax over one logit would be 1.0 for both


def test_a_rerank_label_that_is_not_a_label_of_the_model_stops_it_loading(tiny_bert_dir):
    from bert_classifier.errors import InvalidSetting
    from bert_classifier.service import InferenceService

    with pytest.raises(InvalidSetting, match="rerank_label 'relevant' is not one of the model's labels"):
        InferenceService.load(tiny_bert_dir, Settings(precision="fp32", rerank_label="relevant"))


def test_a_multi_label_count_model_reranks_by_its_rerank_label(tiny_bert_dir):
    import json

    from bert_classifier.messages import Request
    from bert_classifier.service import InferenceService

    service = InferenceService.load(tiny_bert_dir, Settings(precision="fp32", rerank_label="sport"))
    documents = [a for a, _ in PAIRS] + [b for _, b in PAIRS]
    body = json.dumps({"query": "who won", "documents": documents}).encode()
    response = service.handle(Request(body, "application/json"))
    assert response.status == 200
    sport = TINY_LABELS.index("sport")
    scores = service.classifier.score([service.classifier.encode(["who won"] * len(documents), documents)])[0][0]
    expected = sorted(range(len(documents)), key=lambda i: -scores[i].scores[sport])
    results = json.loads(response.body)["results"]
    assert [r["index"] for r in results] == expected
    assert [r["score"] for r in results] == [pytest.approx(scores[i].scores[sport], abs=1e-6) for i in expected]
    assert response.ranked == len(documents)


@pytest.mark.parametrize("architecture", ["distilbert", "roberta"])
def test_models_without_token_types_get_none_even_next_to_a_bert_tokenizer(tokenizer, architecture):
    """A tokenizer shared with BERT gives type ids; DistilBERT's forward takes none and RoBERTa has one type: a pair
    is their ids alone, scored as transformers scores `model(input_ids, attention_mask)` of `tokenizer(a, b)`."""
    from transformers import (
        DistilBertConfig,
        DistilBertForSequenceClassification,
        RobertaConfig,
        RobertaForSequenceClassification,
    )

    torch.manual_seed(0)
    if architecture == "distilbert":
        config = DistilBertConfig(vocab_size=30522, dim=32, n_layers=1, n_heads=2, hidden_dim=64, num_labels=3)
        model = DistilBertForSequenceClassification(config).eval()
    else:
        config = RobertaConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=64, num_labels=3, pad_token_id=0, type_vocab_size=1)  # fmt: skip
        model = RobertaForSequenceClassification(config).eval()
    classifier = TextClassifier(model, tokenizer, ("a", "b", "c"), Settings(precision="fp32"), multi_label=False)
    encoded = classifier.encode([a for a, _ in PAIRS], [b for _, b in PAIRS])
    assert all(segment.type_ids is None for segment in encoded.segments)
    scores = classifier.score([encoded])[0][0]
    for got, (a, b) in zip(scores, PAIRS, strict=True):
        inputs = tokenizer(a, b, truncation="longest_first", max_length=256, return_tensors="pt")
        with torch.inference_mode():
            logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits[0]
        assert got.scores == pytest.approx(torch.softmax(logits, -1).tolist(), abs=1e-5)
