"""A text as an explanation reads it: its token ids, and the words they make with each word's characters.

Word pieces are merged by the fast tokenizer's own word ids: the pieces of one pre-tokenizer word (for BERT's
WordPiece, a run of characters between whitespace and punctuation: `don't` is `don`, `'`, `t`) make one word,
whose span runs from its first piece's start offset to its last piece's end offset, in characters of the text as
decoded (a Python `str` index), and whose attribution is the sum of its pieces' (integrated gradients add up).

A word's span never holds whitespace at its ends: byte-level BPE (RoBERTa, ModernBERT) and SentencePiece-style
(XLM-RoBERTa, DeBERTa-v3) tokenizers carry the space before a word in its first piece, and some report it in the
offsets. A piece of only whitespace (a run of spaces gives one) is no word: it joins the next word (the last one
at the end of the text), so every piece still counts in exactly one word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..segments import readable_prefix

_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class Word:
    """One word: its characters `text[start:end]` and its pieces `token_ids[first:stop]` of the model input."""

    start: int
    end: int
    first: int
    stop: int


@dataclass(frozen=True)
class ReadText:
    """The model input of one explained text ([CLS] and [SEP] included), its words, and whether text was left
    unread (beyond `max_tokens`)."""

    token_ids: tuple[int, ...]
    words: tuple[Word, ...]
    truncated: bool


def read_text(tokenizer, text: str, max_tokens: int) -> ReadText:
    """Tokenize the start of `text` into at most `max_tokens` ids, special tokens included. Only a bounded
    prefix of the text is tokenized (`segments.readable_prefix`), so a long text costs no more than a short one."""
    room = max_tokens - 2
    prefix = readable_prefix(text, room)
    encoding = tokenizer(
        prefix, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False, verbose=False
    )
    ids = encoding["input_ids"]
    truncated = len(ids) > room or _NON_SPACE.search(text, len(prefix)) is not None
    words = _words(encoding.word_ids()[:room], _trimmed(prefix, encoding["offset_mapping"][:room]))
    return ReadText((tokenizer.cls_token_id, *ids[:room], tokenizer.sep_token_id), tuple(words), truncated)


def _trimmed(text: str, offsets: Sequence[tuple[int, int]]) -> list[tuple[int, int] | None]:
    """Each piece's span without whitespace at its ends; None for a piece of only whitespace."""
    spans: list[tuple[int, int] | None] = []
    for start, end in offsets:
        piece = text[start:end]
        stripped = piece.lstrip()
        if not stripped:
            spans.append(None)
            continue
        start += len(piece) - len(stripped)
        spans.append((start, start + len(stripped.rstrip())))
    return spans


def _words(word_ids: Sequence[int | None], spans: Sequence[tuple[int, int] | None]) -> list[Word]:
    """Consecutive pieces with the same word id make one word; piece `i` is input position `i + 1` ([CLS] first).
    Whitespace pieces (span None) belong to the word after them, or to the last word when none follows."""
    words: list[Word] = []
    previous, waiting = None, None
    for position, (word_id, span) in enumerate(zip(word_ids, spans, strict=True), start=1):
        if span is None:
            waiting = position if waiting is None else waiting
            continue
        first, start = position if waiting is None else waiting, span[0]
        if words and word_id is not None and word_id == previous:
            last = words[-1]
            first, start = last.first, last.start
            words.pop()
        words.append(Word(start, span[1], first, position + 1))
        previous, waiting = word_id, None
    if waiting is not None and words:
        last = words[-1]
        words[-1] = Word(last.start, last.end, last.first, len(word_ids) + 1)
    return words


def word_attributions(words: Sequence[Word], token_attributions: Sequence[float]) -> list[float]:
    """Each word's attribution: the sum of its pieces'."""
    return [float(sum(token_attributions[word.first : word.stop])) for word in words]
