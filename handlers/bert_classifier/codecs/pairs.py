"""Text pairs in request bodies: wherever a text may be an object, `{"text": a, "text_pair": b}` is a pair, scored
as transformers scores `tokenizer(a, b)` (NLI, paraphrase, duplicate detection, cross-encoders).

Decoders read each text as a `str` or a `TextPair`; `split_items` turns them into the request's texts and, where
any pair was sent, the second text of each (None for a single text: one request may mix both).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput

FIRST, SECOND = "text", "text_pair"


@dataclass(frozen=True)
class TextPair:
    text: str
    text_pair: str


Item = str | TextPair


def pair_from(record: dict, where: str = "") -> TextPair | None:
    """The pair in an object that has a `text_pair` field (both fields strings), else None. Errors start with
    `where` (the caller adds it later where it is empty)."""
    if SECOND not in record:
        return None
    prefix = f"{where}: " if where else ""
    for name in (FIRST, SECOND):
        if not isinstance(record.get(name), str):
            raise InvalidInput(f"{prefix}a text pair needs the string fields 'text' and 'text_pair' ('{name}' is not)")
    return TextPair(record[FIRST], record[SECOND])


def split_items(items: Sequence[Item]) -> tuple[tuple[str, ...], tuple[str | None, ...]]:
    """`(texts, pairs)`: every item's (first) text, and each item's second text (None: a single text), or `()`
    when no item is a pair."""
    texts = tuple(item.text if isinstance(item, TextPair) else item for item in items)
    if not any(isinstance(item, TextPair) for item in items):
        return texts, ()
    return texts, tuple(item.text_pair if isinstance(item, TextPair) else None for item in items)


def is_item(value: Any) -> bool:
    return isinstance(value, (str, TextPair))


def items_from_tensors(tensors: list, read: Callable[[Any], tuple[str, ...]]) -> tuple[Item, ...]:
    """The texts of an Open Inference request's input tensors (`read` decodes one): one tensor holds texts; two,
    named `text` and `text_pair` and of one shape, hold a pair per element."""
    if len(tensors) == 1:
        return read(tensors[0])
    names = sorted(str(tensor.get("name")) if isinstance(tensor, dict) else "" for tensor in tensors)
    if names != [FIRST, SECOND]:
        raise InvalidInput(
            f"expected one input tensor (BYTES, the texts) or two named 'text' and 'text_pair' (text pairs), got "
            f"{len(tensors)} tensors"
        )
    first, second = sorted(tensors, key=lambda tensor: tensor["name"])
    if first.get("shape") != second.get("shape"):
        raise InvalidInput("the input tensors 'text' and 'text_pair' must have the same shape")
    return tuple(TextPair(a, b) for a, b in zip(read(first), read(second), strict=True))
