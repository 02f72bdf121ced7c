"""bench.workloads and bench.accuracy read the corpus through `training.corpus`, as training does."""

from __future__ import annotations

import json

import pytest

from bench.accuracy import held_out_items
from bench.workloads import PAIR_WORKLOAD, STRATUM, build_workload, measure_tokens, request_documents
from training.corpus import Article, load_corpus

pytestmark = pytest.mark.unit


def articles(n: int = 30) -> list[Article]:
    return [
        Article(f"t{i % 3}/{i:03}.txt", f"t{i % 3}", f"Headline {i}\n\nBody of article {i}. " * 3) for i in range(n)
    ]


def test_workloads_are_deterministic_and_seeded():
    corpus = articles()
    assert build_workload("mixed", corpus, 50, seed=1).texts == build_workload("mixed", corpus, 50, seed=1).texts
    assert build_workload("mixed", corpus, 50, seed=1).texts != build_workload("mixed", corpus, 50, seed=2).texts


def test_short_is_headlines_and_long_is_whole_articles():
    corpus = articles()
    short, long = build_workload("short", corpus, 20), build_workload("long", corpus, 20)
    assert all(text.startswith("Headline") and "\n" not in text for text in short.texts)
    assert all("Body of article" in text for text in long.texts)
    assert short.long_share == 0.0
    assert long.long_share == 1.0


@pytest.mark.parametrize("size", [10, 57, 200])
def test_mixed_holds_its_long_share_in_every_stretch(size):
    workload = build_workload("mixed", articles(), size, long_share=0.2)
    assert sum(workload.is_long) == round(size * 0.2)
    for start in range(0, size - STRATUM + 1, STRATUM):
        assert sum(workload.is_long[start : start + STRATUM]) == 2
    assert all(("Body" in text) == is_long for text, is_long in zip(workload.texts, workload.is_long, strict=True))


def test_workload_larger_than_the_corpus_reuses_articles():
    workload = build_workload("short", articles(5), 12)
    assert len(workload.texts) == 12
    assert len(set(workload.texts)) == 5


def test_unknown_workload_is_rejected():
    with pytest.raises(ValueError, match="unknown workload"):
        build_workload("huge", articles(), 5)


def fake_corpus(root):
    """`sports/` holds a cp1252 article (a pound sign), as the packaged corpus does."""
    (root / "sports").mkdir(parents=True)
    (root / "sports" / "001.txt").write_bytes(b"Record \xa315.8m fee\n\nA signing.\n")
    (root / "tech").mkdir()
    (root / "tech" / "001.txt").write_bytes(b"New phone\n\nIt folds.\n")
    return root


def test_workloads_decode_cp1252_like_training(tmp_path):
    corpus = load_corpus(fake_corpus(tmp_path))
    short = build_workload("short", corpus, 2)
    long = build_workload("long", corpus, 2)
    assert "Record £15.8m fee" in short.texts
    assert "Record £15.8m fee\n\nA signing." in long.texts  # whole, stripped, no replacement character


def test_held_out_items_read_split_json_like_training(tmp_path):
    root = fake_corpus(tmp_path / "corpus")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    split = {"test": [{"path": "sports/001.txt", "label": "sport"}]}
    (model_dir / "split.json").write_text(json.dumps(split))
    pairs, source = held_out_items(model_dir, root)
    assert pairs == [("Record £15.8m fee\n\nA signing.", "sport")]
    assert source == "split.json: 1 held-out articles"


def test_held_out_fallback_sample_carries_the_labels_the_model_knows(tmp_path):
    pairs, source = held_out_items(tmp_path, fake_corpus(tmp_path / "corpus"))
    assert {label for _, label in pairs} <= {"sport", "tech"}  # never the folder name `sports`
    assert source.startswith("no split.json")


def test_packaged_corpus_reads_the_same_in_the_bench_as_in_training():
    corpus = load_corpus()
    assert "sports" not in {article.label for article in corpus}
    long = build_workload("long", corpus, len(corpus))
    assert not any("\ufffd" in text for text in long.texts)  # every byte decoded, none replaced


def test_the_pair_workload_is_each_articles_headline_and_its_body():
    corpus = articles()
    workload = build_workload(PAIR_WORKLOAD, corpus, 12, seed=3)
    assert workload.texts == build_workload(PAIR_WORKLOAD, corpus, 12, seed=3).texts
    for query, passage in zip(workload.texts, workload.pairs, strict=True):
        assert query.startswith("Headline")
        assert passage.startswith("Body of article")
        assert query.split()[1] == passage.split()[3].rstrip(".")  # the same article
    documents = request_documents(workload)
    assert documents[0] == {"text": workload.texts[0], "text_pair": workload.pairs[0]}
    assert request_documents(build_workload("short", corpus, 2))[0].keys() == {"text"}


def test_pair_tokens_are_the_pair_as_the_tokenizer_encodes_it_truncated(tiny_bert_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_bert_dir))
    long = [Article("t/1.txt", "t", "Headline one\n\n" + "word " * 300)]
    workload = measure_tokens(build_workload(PAIR_WORKLOAD, long + articles(3), 4), tokenizer, 64)
    whole = tokenizer(workload.texts, workload.pairs)["input_ids"]
    assert workload.tokens == [min(len(row), 64) for row in whole]
    assert 64 in workload.tokens
