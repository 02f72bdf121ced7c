"""Explanations of the trained default model mean something: on held-out BBC articles the words with the highest
attributions are topical for the predicted label far more often than the article's words are on average.

Topical, objectively: a word (as the model's tokenizer normalises and splits it) is topical for a label when, in
the training split, the share of that label's articles containing it is at least `TOPICAL_RATIO` times the share
of every other label's, and it occurs in at least `MIN_ARTICLES` training articles. Chance is the share of all
explained words (every occurrence in the explained part of the article) that are topical for the predicted label.
Runs in-process (the serving core, not the server) with fewer tokens and steps than the shipped defaults, to stay
within the test budget; the ranking of words is what is tested.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from bert_classifier.codecs import ParsedRequest
from bert_classifier.service import InferenceService
from bert_classifier.settings import Settings
from training.corpus import load_corpus, read_article

pytestmark = pytest.mark.model

PER_LABEL = 2
TOP = 5
TOPICAL_RATIO = 2.0
MIN_ARTICLES = 10
SETTINGS = Settings(max_explained_tokens=128, explain_steps=32, max_texts_per_explanation=1, explanations="shared")


@pytest.fixture(scope="module")
def service(trained_model_dir) -> InferenceService:
    return InferenceService.load(trained_model_dir, SETTINGS)


@pytest.fixture(scope="module")
def split(trained_model_dir) -> dict:
    return json.loads((trained_model_dir / "split.json").read_text())


def words(tokenizer, text: str) -> list[str]:
    backend = tokenizer.backend_tokenizer
    return [word for word, _ in backend.pre_tokenizer.pre_tokenize_str(backend.normalizer.normalize_str(text))]


@pytest.fixture(scope="module")
def topical(service, split) -> dict[str, set[str]]:
    """Label -> its topical words, from the training split (every article not held out)."""
    held_out = {item["path"] for item in split["test"]}
    articles = [article for article in load_corpus() if article.path not in held_out]
    sizes = Counter(article.label for article in articles)
    containing: dict[str, Counter] = defaultdict(Counter)
    for article in articles:
        for word in set(words(service.classifier.tokenizer, article.text)):
            containing[word][article.label] += 1
    result: dict[str, set[str]] = {label: set() for label in sizes}
    for word, counts in containing.items():
        if sum(counts.values()) < MIN_ARTICLES:
            continue
        shares = {label: counts[label] / sizes[label] for label in sizes}
        best = max(shares, key=shares.get)
        if all(shares[best] >= TOPICAL_RATIO * share for label, share in shares.items() if label != best):
            result[best].add(word)
    return result


def held_out_sample(split) -> list[str]:
    chosen: dict[str, list[str]] = defaultdict(list)
    for item in split["test"]:
        if len(chosen[item["label"]]) < PER_LABEL:
            chosen[item["label"]].append(read_article(item["path"]))
    return [text for label in sorted(chosen) for text in chosen[label]]


def explain(service, text: str) -> dict:
    return service.explain(ParsedRequest((text,), True, "application/json"))[0]


def test_the_highest_attributed_words_are_topical_far_more_often_than_chance(service, split, topical):
    tokenizer = service.classifier.tokenizer
    top_hits = top_total = all_hits = all_total = 0
    deltas = []
    for text in held_out_sample(split):
        result = explain(service, text)
        label_words = topical[result["label"]]
        normalised = [" ".join(words(tokenizer, word["word"])) for word in result["words"]]
        ranked = sorted(range(len(normalised)), key=lambda i: -result["words"][i]["attribution"])[:TOP]
        top_hits += sum(normalised[i] in label_words for i in ranked)
        top_total += len(ranked)
        all_hits += sum(word in label_words for word in normalised)
        all_total += len(normalised)
        difference = result["log_score"] - result["baseline_log_score"]
        deltas.append(abs(result["convergence_delta"]) / max(abs(difference), 1e-6))
    top_rate, chance = top_hits / top_total, all_hits / all_total
    print(
        f"\ntop-{TOP} words topical: {top_rate:.2f}, all words: {chance:.2f} ({top_rate / chance:.1f}x chance); "
        f"relative convergence delta median {sorted(deltas)[len(deltas) // 2]:.3f}, max {max(deltas):.3f} "
        f"({SETTINGS.explain_steps} steps, {SETTINGS.max_explained_tokens} tokens)"
    )
    assert chance > 0
    assert top_rate >= 3 * chance
    assert top_rate >= 0.5


def test_the_same_article_gets_the_same_explanation_twice(service, split):
    text = read_article(split["test"][0]["path"])[:400]

    assert explain(service, text) == explain(service, text)
