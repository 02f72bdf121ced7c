"""`explain.words`: word pieces merged into words with character offsets into the text, read in bounded time."""

from __future__ import annotations

import pytest

from bert_classifier.explain.words import Word, read_text, word_attributions
from bert_classifier.segments import MAX_CHARS_PER_TOKEN

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tokenizer(tiny_bert_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert_dir))


def words_of(tokenizer, text: str, max_tokens: int = 64) -> list[str]:
    return [text[word.start : word.end] for word in read_text(tokenizer, text, max_tokens).words]


def test_pieces_of_a_word_make_one_word_whose_offsets_index_the_original_text(tokenizer):
    text = "  Unbelievably, naïve investors in Zürich bought 🚀 tokens."

    read = read_text(tokenizer, text, 64)

    # The uncased tokenizer lower-cases and strips accents; the offsets still point into the text as sent.
    assert [text[word.start : word.end] for word in read.words] == [
        "Unbelievably", ",", "naïve", "investors", "in", "Zürich", "bought", "🚀", "tokens", ".",
    ]  # fmt: skip
    unbelievably = read.words[0]
    assert unbelievably.stop - unbelievably.first > 1  # several word pieces, one word
    assert read.token_ids[0] == tokenizer.cls_token_id
    assert read.token_ids[-1] == tokenizer.sep_token_id
    assert read.words[-1].stop == len(read.token_ids) - 1  # every piece belongs to a word
    assert not read.truncated


def test_punctuation_splits_words_as_the_pre_tokenizer_does(tokenizer):
    assert words_of(tokenizer, "Don't stop: U.S. rates") == ["Don", "'", "t", "stop", ":", "U", ".", "S", ".", "rates"]


def test_a_longer_text_is_cut_at_max_tokens_and_marked_truncated(tokenizer):
    text = " ".join(["market"] * 50)

    read = read_text(tokenizer, text, 10)

    assert len(read.token_ids) == 10
    assert len(read.words) == 8
    assert read.truncated


def test_a_text_that_fits_exactly_is_not_truncated_and_trailing_spaces_do_not_count(tokenizer):
    read = read_text(tokenizer, "one two three   \n", 5)

    assert len(read.token_ids) == 5
    assert not read.truncated


def test_only_a_bounded_prefix_of_a_huge_text_is_tokenized(tokenizer, monkeypatch):
    seen = []
    original = type(tokenizer).__call__

    def spy(self, text, *args, **kwargs):
        seen.append(len(text))
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(type(tokenizer), "__call__", spy)
    read = read_text(tokenizer, "word " * 1_000_000, 16)

    assert seen == [pytest.approx(14 * MAX_CHARS_PER_TOKEN, abs=5)]
    assert read.truncated


def test_a_words_attribution_is_the_sum_of_its_pieces():
    words = [Word(0, 5, 1, 3), Word(6, 8, 3, 4)]

    assert word_attributions(words, [0.0, 0.25, 0.5, -1.0, 0.0]) == [0.75, -1.0]


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def space_carrying_tokenizer(request):
    """A byte-level BPE (RoBERTa's kind) or a Metaspace unigram (SentencePiece's kind): each carries the space
    before a word in the word's first piece, and a run of spaces gives a piece of only whitespace."""
    from transformers import PreTrainedTokenizerFast

    from tests.architectures import ROBERTA_SPECIALS, train_tokenizer

    corpus = ["Shares in the bank rose after profits beat forecasts.", "The striker scored twice in the final."] * 20
    backend = train_tokenizer(request.param, ROBERTA_SPECIALS, corpus)
    return PreTrainedTokenizerFast(tokenizer_object=backend, cls_token="<s>", sep_token="</s>", pad_token="<pad>")


def test_words_of_space_carrying_tokenizers_hold_no_whitespace_and_every_piece_counts(space_carrying_tokenizer):
    text = "Shares  rose after the final.  "

    read = read_text(space_carrying_tokenizer, text, 64)

    words = [text[word.start : word.end] for word in read.words]
    assert words == [word.strip() for word in words]
    assert " ".join(words).replace(" .", ".") == "Shares rose after the final."
    # The pieces of the words follow each other and cover every piece between <s> and </s>.
    assert [word.first for word in read.words] == [1, *(word.stop for word in read.words[:-1])]
    assert read.words[-1].stop == len(read.token_ids) - 1
