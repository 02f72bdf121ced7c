"""A text as an explanation reads it: its token ids, and the words they make with each word's characters.

Word pieces are merged by the fast tokenizer's own word ids: the pieces of one pre-tokenizer word (for BERT's
WordPiece, a run of characters between whitespace and punctuation: `don't` is `don`, `'`, `t`) make one word,
whose span runs from its first piece's start offset to its last piece's end offset, in characters of the text as
decoded (a Python `str` index), and whose attribution is the sum of its pieces' (integrated gradients add up).

A text pair is read as predictions read it (`pairs.PairTemplate`, `longest_first`): its words carry which text
they are in (`part` 0 or 1) and their characters are offsets into that text.

A word's span never holds whitespace at its ends: byte-level BPE (RoBERTa, ModernBERT) and SentencePiece-style
(XLM-RoBERTa, DeBERTa-v3) tokenizers carry the space before a word in its first piece, and some report it in the
offsets. A piece of only whitespace (a run of spaces gives one) is no word: it joins the next word (the last one
at the end of the text), so every piece still counts in exactly one word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..pairs import PairTemplate, longest_first
from ..segments import readable_prefix

_NON_SPACE = re.compile(r"\S")


@dataclass(frozen=True)
class Word:
    """One word: its characters `text[start:end]` and its pieces `token_ids[first:stop]` of the model input."""

    start: int
    end: int
    first: int
    stop: int
    part: int = 0
    """Which text of a pair the word is in (0: the text, 1: the text pair)."""


@dataclass(frozen=True)
class ReadText:
    """The model input of one explained text ([CLS] and [SEP] included), its words, and whether text was left
    unread (beyond `max_tokens`)."""

    token_ids: tuple[int, ...]
    words: tuple[Word, ...]
    truncated: bool
    type_ids: tuple[int, ...] | None = None
    """A pair's token types (None: a single text, or a model without them)."""
    special: tuple[int, ...] = ()
    """Positions of a pair's special tokens (a baseline keeps them); empty: the first and the last."""


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


def read_pair(tokenizer, template: PairTemplate, texts: tuple[str, str], max_tokens: int) -> ReadText:
    """A text pair's model input of at most `max_tokens` ids, truncated `longest_first` as predictions are, and the
    words of both texts (each with its `part`). Each text is tokenized only as far as `readable_prefix` bounds."""
    room = max_tokens - template.specials
    prefixes = [readable_prefix(text, room) for text in texts]
    encodings = [
        tokenizer(prefix, add_special_tokens=False, return_offsets_mapping=True, return_attention_mask=False,
                  verbose=False)
        for prefix in prefixes
    ]  # fmt: skip
    kept = longest_first(*(len(encoding["input_ids"]) for encoding in encodings), room)
    ids, types = template.row(*(list(e["input_ids"][:keep]) for e, keep in zip(encodings, kept, strict=True)))
    before, between, _ = (len(part) for part in template.parts)
    starts = (before, before + kept[0] + between)
    words = [
        word
        for part, (prefix, encoding, keep, start) in enumerate(zip(prefixes, encodings, kept, starts, strict=True))
        for word in _words(encoding.word_ids()[:keep], _trimmed(prefix, encoding["offset_mapping"][:keep]), start, part)
    ]
    truncated = any(
        keep < len(encoding["input_ids"]) or _NON_SPACE.search(text, len(prefix)) is not None
        for text, prefix, encoding, keep in zip(texts, prefixes, encodings, kept, strict=True)
    )
    text_positions = {position for word in words for position in range(word.first, word.stop)}
    special = tuple(position for position in range(len(ids)) if position not in text_positions)
    return ReadText(tuple(ids), tuple(words), truncated, types, special)


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


def _words(
    word_ids: Sequence[int | None], spans: Sequence[tuple[int, int] | None], first: int = 1, part: int = 0
) -> list[Word]:
    """Consecutive pieces with the same word id make one word; piece `i` is input position `i + first` ([CLS]
    first). Whitespace pieces (span None) belong to the word after them, or to the last word when none follows."""
    words: list[Word] = []
    previous, waiting = None, None
    for position, (word_id, span) in enumerate(zip(word_ids, spans, strict=True), start=first):
        if span is None:
            waiting = position if waiting is None else waiting
            continue
        begins, start = position if waiting is None else waiting, span[0]
        if words and word_id is not None and word_id == previous:
            last = words.pop()
            begins, start = last.first, last.start
        words.append(Word(start, span[1], begins, position + 1, part))
        previous, waiting = word_id, None
    if waiting is not None and words:
        last = words[-1]
        words[-1] = Word(last.start, last.end, last.first, len(word_ids) + first, part)
    return words


def word_attributions(words: Sequence[Word], token_attributions: Sequence[float]) -> list[float]:
    """Each word's attribution: the sum of its pieces'."""
    return [float(sum(token_attributions[word.first : word.stop])) for word in words]
