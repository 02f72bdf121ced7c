"""Texts -> token-id segments: read only as much of a text as can be used, then truncate it or cut it into windows.

A text is tokenized in chunks, and only until it has given more tokens than its segments can hold, or
`MAX_CHARS_PER_TOKEN` characters per such token have been read: the cost of a text is bounded by what can be
used, not by its length (6 MiB of punctuation or CJK would otherwise be millions of tokens, and 6 MiB of spaces
seconds of tokenizer time). Chunks end just before a whitespace character, where no tokenizer of the BERT family
(WordPiece, byte-level BPE) joins characters into one token, so the tokens read are those of the whole text. The
exceptions are pathological: a "word" without whitespace longer than half a chunk (which WordPiece reads as
[UNK] anyway) and text beyond the character bound (reported as truncated).
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidInput
from .pairs import PairTemplate, longest_first
from .settings import Settings

CHUNK_CHARS_PER_TOKEN = 8
"""The first chunk holds this many characters per token wanted: English runs at about 4.5 characters a token, so
one chunk is nearly always enough; later chunks double."""
MAX_CHARS_PER_TOKEN = 64
"""At most this many characters per wanted token are read (16,256 for a 256-token segment): far more than any
natural text needs, and a bound on the tokenizer's time whatever the text."""
_LAST_WHITESPACE = re.compile(r"\s(?=\S*$)")


@dataclass(frozen=True)
class Segment:
    """One model input row: the index of its text (within the request) and its token ids with special tokens."""

    text_index: int
    token_ids: list[int]
    type_ids: tuple[int, ...] | None = None
    """Token type ids (a text pair on a model that takes them); None: all 0, as the model's forward defaults to."""


@dataclass(frozen=True)
class EncodedTexts:
    """The segments of one request's texts, which texts were not read to their end, and the tokenizer's time."""

    segments: tuple[Segment, ...]
    truncated: tuple[bool, ...]
    tokenize_seconds: float = 0.0
    pairs: int = 0
    """How many of the texts are text pairs."""

    @property
    def tokens(self) -> int:
        """Token ids over all segments, special tokens included: the request's share of the model's work."""
        return sum(len(segment.token_ids) for segment in self.segments)


class Segmenter:
    """Turns texts into segments by the settings' `max_length`, `long_text`, `window_stride` and `max_windows`."""

    def __init__(self, tokenizer, settings: Settings, token_types: bool | None = None) -> None:
        """`token_types`: whether the model reads token type ids (`pairs.uses_token_types`; None: whenever the
        tokenizer gives them)."""
        self.tokenizer = tokenizer
        self.settings = settings
        self.room = settings.max_length - 2  # [CLS] and [SEP]
        self._cls, self._sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.pair_template = PairTemplate.of(tokenizer, token_types)

    @property
    def tokens_used(self) -> int:
        """The most tokens of one text that its segments can hold."""
        if self.settings.long_text != "window":
            return self.room
        return self.room + (self.settings.max_windows - 1) * (self.room - self.settings.window_stride)

    def encode(self, texts: Sequence[str], pairs: Sequence[str | None] = ()) -> EncodedTexts:
        """Segments of `texts`; where `pairs` has a second text for a text (`pairs[i]` not None), the pair's one
        segment instead (`_pair`). Raises `InvalidInput` for a pair that `window` mode cannot read whole."""
        started = time.perf_counter()
        segments: list[Segment] = []
        truncated = []
        seconds = [pair for pair in pairs if pair is not None]
        # Pair texts are read to twice the room: enough to tell which one is longer (`longest_first`) unless both are
        # far longer than `max_length`, where their length in characters decides.
        limit = max(self.tokens_used, 2 * self.room) if seconds else self.tokens_used
        second_ids = iter(leading_token_ids(self.tokenizer, seconds, limit) if seconds else [])
        second_texts = iter(seconds)
        for index, (ids, complete) in enumerate(leading_token_ids(self.tokenizer, texts, limit)):
            if index < len(pairs) and pairs[index] is not None:
                order = len(texts[index]) - len(next(second_texts))
                segment, cut = self._pair(index, (ids, complete), next(second_ids), order)
                segments.append(segment)
                truncated.append(cut)
                continue
            windows, covered = self._windows(ids)
            segments += [Segment(index, [self._cls, *window, self._sep]) for window in windows]
            truncated.append(covered < len(ids) or not complete)
        return EncodedTexts(tuple(segments), tuple(truncated), time.perf_counter() - started, len(seconds))

    def _pair(
        self, index: int, first: tuple[list[int], bool], second: tuple[list[int], bool], order: int
    ) -> tuple[Segment, bool]:
        """One pair's segment, truncated `longest_first` to `max_length`, and whether either text was cut. `order`:
        which text is longer where neither was read to its end (positive: the first)."""
        room = self.settings.max_length - self.pair_template.specials
        (a, a_whole), (b, b_whole) = first, second
        lengths = (len(a), len(b))
        if not (a_whole or b_whole) and len(a) == len(b):
            lengths = (len(a) + (order > 0), len(b) + (order <= 0))
        keep_a, keep_b = (min(keep, len(ids)) for keep, ids in zip(longest_first(*lengths, room), (a, b), strict=True))
        cut = keep_a < len(a) or keep_b < len(b) or not (a_whole and b_whole)
        if cut and self.settings.long_text == "window":
            raise InvalidInput(
                f"text pair {index} is longer than max_length={self.settings.max_length} tokens; a pair is read as one "
                "window (long_text: window cuts single texts only): shorten it, or serve with long_text: truncate"
            )
        ids, types = self.pair_template.row(a[:keep_a], b[:keep_b])
        return Segment(index, ids, types), cut

    def _windows(self, ids: list[int]) -> tuple[list[list[int]], int]:
        """The windows of one text's token ids, and how many of its tokens they cover."""
        if self.settings.long_text != "window":
            return [ids[: self.room]], min(len(ids), self.room)
        stride, most = self.settings.window_stride, self.settings.max_windows
        windows = split_into_windows(ids, self.room, stride, most)
        return windows, min(len(ids), self.room + (len(windows) - 1) * (self.room - stride))


def leading_token_ids(tokenizer, texts: Sequence[str], limit: int) -> list[tuple[list[int], bool]]:
    """For each text, its first token ids (no special tokens) and whether that is the whole text.

    The ids are all of the text's, or its first `limit + 1` when it has more (so a caller sees that it was cut),
    or fewer when `MAX_CHARS_PER_TOKEN * limit` characters gave no more (then it is not the whole text).
    """
    first, most = max(64, limit * CHUNK_CHARS_PER_TOKEN), _char_bound(limit)
    cuts = [_cut(text, 0, first) for text in texts]
    firsts = _token_ids(tokenizer, [text[:cut] for text, cut in zip(texts, cuts, strict=True)])
    result = []
    for text, cut, ids in zip(texts, cuts, firsts, strict=True):
        chunk = first
        while len(ids) <= limit and cut < min(len(text), most):
            chunk = min(2 * chunk, most - cut)
            start, cut = cut, _cut(text, cut, chunk)
            ids += _token_ids(tokenizer, [text[start:cut]])[0]
        result.append((ids[: limit + 1], cut >= len(text) and len(ids) <= limit))
    return result


def readable_prefix(text: str, tokens: int) -> str:
    """The start of `text` that can give at most `tokens` tokens' worth of use: at most `MAX_CHARS_PER_TOKEN`
    characters per token, cut before a whitespace character. A bound on tokenizing one text, for callers that
    tokenize it in one go."""
    return text[: _cut(text, 0, _char_bound(tokens))]


def _char_bound(tokens: int) -> int:
    return max(64, tokens * MAX_CHARS_PER_TOKEN)


def _cut(text: str, start: int, chunk: int) -> int:
    """Where the chunk starting at `start` ends: just before the last whitespace of its second half, if any."""
    end = start + chunk
    if end >= len(text):
        return len(text)
    found = _LAST_WHITESPACE.search(text, start + max(1, chunk // 2), end)
    return found.start() if found else end


def _token_ids(tokenizer, pieces: list[str]) -> list[list[int]]:
    # verbose=False: we truncate or window ourselves, so the tokenizer's too-long warning is noise.
    encoded = tokenizer(pieces, add_special_tokens=False, return_attention_mask=False, verbose=False)
    return [list(ids) for ids in encoded["input_ids"]]


def split_into_windows(token_ids: Sequence[int], window: int, overlap: int, max_windows: int) -> list[list[int]]:
    """Cut a text's tokens (without special tokens) into windows of at most `window` tokens that overlap by
    `overlap` tokens, at most `max_windows` of them. Always at least one window (possibly empty)."""
    step = window - overlap
    starts = range(0, max(len(token_ids) - overlap, 1), step)
    return [list(token_ids[start : start + window]) for start in starts][:max_windows]
