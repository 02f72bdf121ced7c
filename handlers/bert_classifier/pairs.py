"""Text pairs -> model rows, as transformers encodes `tokenizer(text, text_pair, truncation="longest_first")`.

Where the special tokens go and which token type each part gets is read from the tokenizer itself (its
post-processor, seen on a pair of marker texts), never assumed: BERT's `[CLS] a [SEP] b [SEP]` with types 0/1,
RoBERTa's `<s> a </s></s> b </s>`. Token type ids reach the model only when its tokenizer gives them and the
model has more than one token type (`uses_token_types`): DistilBERT, RoBERTa, XLM-R, DeBERTa-v2 (type_vocab_size 0
by default) and ModernBERT get none, even next to a tokenizer shared with BERT.
"""

from __future__ import annotations

from dataclasses import dataclass

MARKERS = ("a", "b")
"""Two texts whose tokens mark where each text of a pair goes in the tokenizer's template."""


def uses_token_types(tokenizer, config) -> bool:
    """Whether the model reads token type ids: its tokenizer gives them and its config has more than one type
    (DistilBERT's has none, RoBERTa's one; passing a type 1 there would fail or be ignored)."""
    return "token_type_ids" in tokenizer.model_input_names and (getattr(config, "type_vocab_size", 0) or 0) > 1


@dataclass(frozen=True)
class PairTemplate:
    """The special tokens around and between the two texts of a pair, and every part's token type."""

    parts: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
    """Special token ids before the first text, between the texts, after the second."""
    part_types: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]
    text_types: tuple[int, int]
    """The token type of every token of the first and of the second text."""
    with_types: bool
    """Whether the model takes token type ids (its tokenizer returns them)."""

    @classmethod
    def of(cls, tokenizer, with_types: bool | None = None) -> PairTemplate:
        """Read the template from a fast tokenizer's post-processor. `with_types`: whether the model reads token
        type ids (`uses_token_types`); None: whenever the tokenizer gives them."""
        from tokenizers import Tokenizer

        # A copy without padding or truncation: checkpoints may ship either switched on, and a caller's
        # `tokenizer(..., max_length=...)` leaves truncation set on the shared backend.
        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
        backend.no_padding()
        backend.no_truncation()
        encoded = backend.encode(*MARKERS, add_special_tokens=True)
        parts: list[list[int]] = [[], [], []]
        types: list[list[int]] = [[], [], []]
        text_types = [0, 0]
        part = 0
        for sequence, token, kind in zip(encoded.sequence_ids, encoded.ids, encoded.type_ids, strict=True):
            if sequence is None:
                parts[part].append(token)
                types[part].append(kind)
            else:
                part, text_types[sequence] = sequence + 1, kind
        return cls(
            (tuple(parts[0]), tuple(parts[1]), tuple(parts[2])),
            (tuple(types[0]), tuple(types[1]), tuple(types[2])),
            (text_types[0], text_types[1]),
            "token_type_ids" in tokenizer.model_input_names if with_types is None else with_types,
        )

    @property
    def specials(self) -> int:
        """Special tokens a pair adds."""
        return sum(len(part) for part in self.parts)

    def row(self, first: list[int], second: list[int]) -> tuple[list[int], tuple[int, ...] | None]:
        """The token ids of one pair (its texts' ids already truncated) and their token types (None: no types)."""
        before, between, after = self.parts
        ids = [*before, *first, *between, *second, *after]
        if not self.with_types:
            return ids, None
        (t_before, t_between, t_after), (t_first, t_second) = self.part_types, self.text_types
        types = (*t_before, *[t_first] * len(first), *t_between, *[t_second] * len(second), *t_after)
        return ids, types


def longest_first(first: int, second: int, room: int) -> tuple[int, int]:
    """How many tokens of each text fit in `room`: the Rust tokenizers' `longest_first` (the shorter text is kept
    whole if it takes at most half; else each gets half, the longer one the odd token)."""
    if first + second <= room:
        return first, second
    short, long = sorted((first, second))
    if 2 * short > room:
        short, long = room // 2, room // 2 + room % 2
    else:
        long = room - short
    return (short, long) if first <= second else (long, short)
