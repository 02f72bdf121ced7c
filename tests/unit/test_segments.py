"""Texts -> segments: reading only the tokens that can be used, truncation and long-text windows."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_classifier.segments import (
    CHUNK_CHARS_PER_TOKEN,
    MAX_CHARS_PER_TOKEN,
    Segmenter,
    leading_token_ids,
    split_into_windows,
)
from bert_classifier.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tokenizer(tiny_bert_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_bert_dir))


class CountingTokenizer:
    """The real tokenizer, counting the characters it is given (to show how much of a text is read)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.characters = 0
        self.cls_token_id, self.sep_token_id = tokenizer.cls_token_id, tokenizer.sep_token_id

    def __call__(self, pieces, **kwargs):
        self.characters += sum(len(piece) for piece in pieces)
        return self.tokenizer(pieces, **kwargs)


def all_ids(tokenizer, text: str) -> list[int]:
    return tokenizer([text], add_special_tokens=False, verbose=False)["input_ids"][0]


WORDS = st.sampled_from(["shares", "fell", "Chelsea", "won", "2-0", "£1bn", "naïve", "東京", "!!", "e-mail", "x" * 30])
SPACES = st.sampled_from([" ", "  ", "\n", "\t", " \r\n "])
TEXTS = st.lists(st.tuples(WORDS, SPACES), min_size=1, max_size=400).map(lambda pairs: "".join(a + b for a, b in pairs))


@settings(max_examples=150, deadline=None)
@given(text=TEXTS, limit=st.integers(min_value=1, max_value=40))
def test_leading_ids_are_the_whole_texts_first_ids_however_it_is_chunked(tokenizer, text, limit):
    every = all_ids(tokenizer, text)
    assert leading_token_ids(tokenizer, [text], limit) == [(every[: limit + 1], len(every) <= limit)]


@pytest.mark.parametrize(
    "text", ["!" * 6_000_000, "東" * 2_000_000, "word " * 1_000_000], ids=["punctuation", "cjk", "words"]
)
def test_a_huge_text_is_read_only_as_far_as_its_tokens_are_used(tokenizer, text):
    counting = CountingTokenizer(tokenizer)
    limit = 254
    ids, complete = leading_token_ids(counting, [text], limit)[0]
    assert (len(ids), complete) == (limit + 1, False)
    assert counting.characters <= limit * CHUNK_CHARS_PER_TOKEN  # one chunk of a megabytes-long text


@pytest.mark.parametrize(
    "text",
    ["a" + " " * 6_000_000 + "b", "x" * 6_000_000, "a\u200b" * 1_500_000, "\x00" * 6_000_000],
    ids=["spaces", "one-long-word", "zero-width", "control"],
)
def test_a_huge_text_of_sparse_tokens_is_read_no_further_than_the_character_bound(tokenizer, text):
    counting = CountingTokenizer(tokenizer)
    limit = 254
    ids, complete = leading_token_ids(counting, [text], limit)[0]
    assert len(ids) <= limit + 1
    assert not complete
    assert counting.characters <= limit * MAX_CHARS_PER_TOKEN


def test_a_text_with_few_tokens_far_apart_is_read_to_its_end_within_the_bound(tokenizer):
    text = "shares" + " " * 300 + "fell" + " " * 100  # 410 characters: several chunks, within 10 x 64
    assert leading_token_ids(tokenizer, [text], 10) == [(all_ids(tokenizer, text), True)]


@pytest.mark.parametrize(("extra", "truncated"), [(-1, False), (0, False), (1, True), (500, True)])
def test_truncated_is_true_only_when_tokens_were_left_unread(tokenizer, extra, truncated):
    settings = Settings(max_length=16)
    room = settings.max_length - 2
    encoded = Segmenter(tokenizer, settings).encode(["word " * (room + extra)])
    assert encoded.truncated == (truncated,)
    assert len(encoded.segments) == 1
    assert len(encoded.segments[0].token_ids) == min(room, room + extra) + 2


def test_window_mode_reads_as_many_tokens_as_its_windows_hold(tokenizer):
    settings = Settings(max_length=16, long_text="window", window_stride=4, max_windows=3)
    segmenter = Segmenter(tokenizer, settings)
    room = 14
    assert segmenter.tokens_used == room + 2 * (room - 4)
    fits = segmenter.encode(["word " * segmenter.tokens_used])
    assert (len(fits.segments), fits.truncated) == (3, (False,))
    over = segmenter.encode(["word " * (segmenter.tokens_used + 1)])
    assert (len(over.segments), over.truncated) == (3, (True,))
    assert over.tokens == 3 * 16


# --- split_into_windows -------------------------------------------------------------------------------------


def stitch(windows: list[list[int]], overlap: int) -> list[int]:
    """Undo the windowing: the first window plus each later window without its overlapping head."""
    tokens = list(windows[0])
    for window in windows[1:]:
        tokens += window[overlap:]
    return tokens


WINDOW_CASES = st.integers(min_value=1, max_value=40).flatmap(
    lambda window: st.tuples(
        st.lists(st.integers(min_value=0, max_value=30000), max_size=300),
        st.just(window),
        st.integers(min_value=0, max_value=window - 1),
    )
)


@settings(max_examples=200, deadline=None)
@given(case=WINDOW_CASES)
def test_uncapped_windows_cover_the_text_exactly_with_the_right_overlap(case):
    tokens, window, overlap = case

    windows = split_into_windows(tokens, window, overlap, max_windows=10_000)

    assert windows
    assert all(len(w) <= window for w in windows)
    assert all(len(w) == window for w in windows[:-1])  # only the last window may be short
    for previous, current in itertools.pairwise(windows):
        assert previous[len(previous) - overlap :] == current[:overlap]
    assert stitch(windows, overlap) == tokens


@settings(max_examples=200, deadline=None)
@given(case=WINDOW_CASES, max_windows=st.integers(min_value=1, max_value=5))
def test_max_windows_caps_the_count_and_keeps_the_first_windows(case, max_windows):
    tokens, window, overlap = case

    capped = split_into_windows(tokens, window, overlap, max_windows)
    uncapped = split_into_windows(tokens, window, overlap, max_windows=10_000)

    assert len(capped) == min(max_windows, len(uncapped))
    assert capped == uncapped[: len(capped)]


def test_windows_of_a_concrete_text():
    assert split_into_windows(list(range(10)), window=4, overlap=2, max_windows=8) == [
        [0, 1, 2, 3],
        [2, 3, 4, 5],
        [4, 5, 6, 7],
        [6, 7, 8, 9],
    ]


def test_no_overlap_gives_disjoint_chunks():
    assert split_into_windows(list(range(7)), window=3, overlap=0, max_windows=8) == [
        [0, 1, 2],
        [3, 4, 5],
        [6],
    ]


@pytest.mark.parametrize("length", [1, 3, 4])
def test_a_text_that_fits_is_one_window(length):
    assert split_into_windows(list(range(length)), window=4, overlap=2, max_windows=8) == [list(range(length))]


def test_an_empty_text_is_one_empty_window():
    assert split_into_windows([], window=4, overlap=1, max_windows=3) == [[]]


def test_one_token_past_the_window_adds_a_second_window():
    assert split_into_windows(list(range(5)), window=4, overlap=2, max_windows=8) == [[0, 1, 2, 3], [2, 3, 4]]


def test_a_text_longer_than_the_character_bound_is_truncated_even_with_few_tokens(tokenizer):
    settings = Settings(max_length=16)
    encoded = Segmenter(tokenizer, settings).encode(["shares" + " " * (14 * MAX_CHARS_PER_TOKEN) + "fell"])
    assert encoded.truncated == (True,)
    assert encoded.segments[0].token_ids[1:-1] == all_ids(tokenizer, "shares")
