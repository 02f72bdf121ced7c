"""Seeded text workloads from the BBC news corpus (read by `training.corpus`, as training reads it).

- `short`: headlines (the first line of an article);
- `mixed`: mostly headlines, with a fixed share of whole articles interleaved in a seeded random order;
- `long`: whole articles (the handler truncates them to `max_length` tokens);
- `pair`: text pairs, query + passage, as a cross-encoder reranks them: an article's headline paired with its body
  (truncated `longest_first` to `max_length` tokens, so nearly all of the passage's share). Not in `WORKLOADS`
  (the load and ceiling runs send single texts); `request_documents` gives its request bodies.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from training.corpus import Article, headline

WORKLOADS = ("short", "mixed", "long")
PAIR_WORKLOAD = "pair"
MIXED_LONG_SHARE = 0.2
"""Share of whole articles in the `mixed` workload (by count); the rest are headlines."""
STRATUM = 10
"""The mixed workload holds its long share in every block of this many texts."""


@dataclass
class Workload:
    name: str
    texts: list[str]
    is_long: list[bool]
    tokens: list[int] = field(default_factory=list)
    """Tokens per text as the model sees it (special tokens included, truncated): filled by `measure_tokens`."""
    pairs: list[str] = field(default_factory=list)
    """`pair`: each text's second text (the passage its query is scored against); empty for single texts."""

    @property
    def long_share(self) -> float:
        return sum(self.is_long) / len(self.is_long) if self.is_long else 0.0

    @property
    def mean_tokens(self) -> float:
        return sum(self.tokens) / len(self.tokens) if self.tokens else 0.0


def build_workload(
    name: str, articles: Sequence[Article], size: int, seed: int = 0, long_share: float = MIXED_LONG_SHARE
) -> Workload:
    """`size` texts for workload `name`, drawn without replacement while the corpus lasts; same seed, same list.

    `mixed` has `round(size * long_share)` whole articles, stratified (see `_stratified_flags`).
    """
    if name not in (*WORKLOADS, PAIR_WORKLOAD):
        raise ValueError(f"unknown workload {name!r}; known: {', '.join((*WORKLOADS, PAIR_WORKLOAD))}")
    if not articles or size < 1:
        raise ValueError("need at least one article and a positive size")
    rng = random.Random(f"{name}:{seed}")  # noqa: S311 - a seeded workload, not crypto
    picked = _draw(rng, articles, size)
    if name == PAIR_WORKLOAD:
        queries = [headline(article.text) for article in picked]
        passages = [
            article.text.strip().removeprefix(query).strip() for article, query in zip(picked, queries, strict=True)
        ]
        return Workload(name, queries, [True] * size, pairs=passages)
    if name == "short":
        flags = [False] * size
    elif name == "long":
        flags = [True] * size
    else:
        flags = _stratified_flags(rng, size, long_share)
    texts = [
        article.text.strip() if is_long else headline(article.text)
        for article, is_long in zip(picked, flags, strict=True)
    ]
    return Workload(name, texts, flags)


def _stratified_flags(rng: random.Random, size: int, share: float, block: int = STRATUM) -> list[bool]:
    """`round(size * share)` True flags, spread so that every block of `block` texts holds its share (any
    prefix of the workload has nearly the same mix as the whole), shuffled within each block."""
    flags = [round((i + 1) * share) > round(i * share) for i in range(size)]
    for start in range(0, size, block):
        chunk = flags[start : start + block]
        rng.shuffle(chunk)
        flags[start : start + block] = chunk
    return flags


def _draw(rng: random.Random, articles: Sequence[Article], size: int) -> list[Article]:
    picked: list[Article] = []
    while len(picked) < size:
        pool = list(articles)
        rng.shuffle(pool)
        picked += pool[: size - len(picked)]
    return picked


def measure_tokens(workload: Workload, tokenizer, max_length: int) -> Workload:
    """Fill `workload.tokens` with what the handler feeds the model: [CLS] text [SEP], truncated (a pair as the
    tokenizer encodes it, truncated `longest_first`)."""
    if workload.pairs:
        encoded = tokenizer(workload.texts, workload.pairs, truncation="longest_first", max_length=max_length)
        workload.tokens = [len(row) for row in encoded["input_ids"]]
        return workload
    ids = tokenizer(workload.texts, add_special_tokens=False, return_attention_mask=False)["input_ids"]
    workload.tokens = [min(len(row), max_length - 2) + 2 for row in ids]
    return workload


def request_documents(workload: Workload) -> list[dict]:
    """One request body per text: `{"text"}`, or `{"text", "text_pair"}` for a pair workload."""
    if not workload.pairs:
        return [{"text": text} for text in workload.texts]
    return [{"text": text, "text_pair": pair} for text, pair in zip(workload.texts, workload.pairs, strict=True)]
