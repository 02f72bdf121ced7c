"""The texts explained and classified: cut from the model's held-out BBC articles (its `split.json`), so the
model never saw them in training; same articles, same texts."""

from __future__ import annotations

import re
from collections.abc import Sequence

from training.corpus import headline

SENTENCE_END = re.compile(r"(?<=[.!?])\s")


def body(article: str) -> str:
    """The article without its headline line."""
    text = article.strip()
    return text[len(headline(text)) :].strip()


def first_sentence(article: str) -> str:
    """The body's first sentence (up to the first `.`, `!` or `?` followed by white space)."""
    text = " ".join(body(article).split())
    return SENTENCE_END.split(text, maxsplit=1)[0]


def first_words(article: str, count: int) -> str:
    return " ".join(body(article).split()[:count])


def cost_texts(articles: Sequence[str], kind: str, requests: int) -> list[list[str]]:
    """The texts of `requests` requests of a cost kind (`plan.COST_KINDS`), each from other articles."""
    per_request = 2 if kind == "two-articles" else 1
    cut = {"sentence": first_sentence, "60-words": lambda a: first_words(a, 60)}.get(kind, lambda a: a.strip())
    needed = requests * per_request
    if len(articles) < needed:
        raise ValueError(f"{kind}: {needed} articles needed, {len(articles)} given")
    texts = [cut(article) for article in articles[:needed]]
    return [texts[i : i + per_request] for i in range(0, needed, per_request)]


def held_out_articles(model_dir) -> list[str]:
    """The model's held-out articles, in `split.json`'s order."""
    from tools.accuracy_gate import held_out_pairs

    found = held_out_pairs(model_dir)
    if not found:
        raise SystemExit(f"error: {model_dir} has no split.json: the texts come from the model's held-out articles")
    return [text for text, _ in found[0]]
