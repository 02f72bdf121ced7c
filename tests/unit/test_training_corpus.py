"""training.corpus: reading the BBC corpus (labels, encodings) and the stratified split."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from training import RunRejected
from training.corpus import (
    corpus_root,
    counts_per_label,
    decode_article,
    headline,
    label_names,
    load_corpus,
    load_split,
    read_article,
    stratified_split,
)

pytestmark = pytest.mark.unit

BBC_COUNTS = {"business": 510, "entertainment": 386, "politics": 417, "sport": 511, "tech": 401}


def write_fake_corpus(root: Path) -> Path:
    """Three topics of two articles; sports/002.txt is cp1252 (a pound sign), not UTF-8."""
    articles = {
        "business/001.txt": b"Shares rise\n\nMarkets gained.",
        "business/002.txt": "Café chain grows\n\nIt opened shops.".encode(),
        "sports/001.txt": b"Late winner\n\nA goal in extra time.",
        "sports/002.txt": b"Record fee\n\nA \xa315.8m signing.",
        "tech/001.txt": b"New phone\n\nIt folds.",
        "tech/002.txt": b"Chip sales\n\nThey doubled.",
    }
    for relative, raw in articles.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(raw)
    return root


def test_decode_prefers_utf8_and_falls_back_to_cp1252():
    assert decode_article("Café £5".encode()) == "Café £5"
    assert decode_article(b"a \xa315.8m signing") == "a £15.8m signing"
    # 0x81 is undefined in cp1252: latin-1 still decodes it rather than crashing.
    assert decode_article(b"odd \x81 byte") == "odd \x81 byte"


def test_fake_corpus_labels_renamed_sport_and_undecodable_bytes_read(tmp_path):
    articles = load_corpus(write_fake_corpus(tmp_path))

    assert label_names(articles) == ["business", "sport", "tech"]
    assert [article.path for article in articles] == [
        "business/001.txt",
        "business/002.txt",
        "sports/001.txt",
        "sports/002.txt",
        "tech/001.txt",
        "tech/002.txt",
    ]
    by_path = {article.path: article for article in articles}
    assert by_path["sports/002.txt"].label == "sport"
    assert "£15.8m" in by_path["sports/002.txt"].text
    assert by_path["business/002.txt"].text.startswith("Café")
    assert headline(by_path["tech/001.txt"].text) == "New phone"


def test_limit_per_class_keeps_the_first_files_of_each_topic(tmp_path):
    articles = load_corpus(write_fake_corpus(tmp_path), limit_per_class=1)

    assert [article.path for article in articles] == ["business/001.txt", "sports/001.txt", "tech/001.txt"]


def test_read_article_resolves_split_paths_under_the_corpus_root(tmp_path):
    root = write_fake_corpus(tmp_path)

    assert read_article("sports/002.txt", root=root).endswith("A £15.8m signing.")
    assert read_article(root / "tech/002.txt") == "Chip sales\n\nThey doubled."


def test_empty_corpus_folder_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no topic folders"):
        load_corpus(tmp_path)


def test_packaged_corpus_has_2225_articles_in_the_five_bbc_labels():
    articles = load_corpus()

    assert len(articles) == 2225
    assert counts_per_label(articles) == BBC_COUNTS
    assert "£15.8m" in read_article("sports/199.txt")  # the one article that is not UTF-8
    assert (corpus_root() / "sports" / "199.txt").is_file()


def test_split_is_deterministic_for_a_seed_and_stratified():
    articles = load_corpus()

    train_a, test_a = stratified_split(articles, 0.15, seed=42)
    train_b, test_b = stratified_split(articles, 0.15, seed=42)
    _, test_other_seed = stratified_split(articles, 0.15, seed=7)

    assert [a.path for a in test_a] == [b.path for b in test_b]
    assert [a.path for a in train_a] == [b.path for b in train_b]
    assert {a.path for a in test_a} != {a.path for a in test_other_seed}
    assert not {a.path for a in train_a} & {a.path for a in test_a}
    assert len(train_a) + len(test_a) == 2225
    held_out = Counter(article.label for article in test_a)
    for label, total in BBC_COUNTS.items():
        assert abs(held_out[label] - 0.15 * total) <= 1, label


def test_load_split_names_labels_by_class_id_and_refuses_too_small_a_held_out_share(tmp_path):
    root = write_fake_corpus(tmp_path)
    split = load_split(0.5, seed=1, root=root)
    assert split.labels == ["business", "sport", "tech"]
    assert sorted(a.label for a in split.test) == ["business", "sport", "tech"]
    assert split.label_ids(split.test) == [split.labels.index(a.label) for a in split.test]
    with pytest.raises(RunRejected, match="fewer articles than there are labels"):
        load_split(0.1, seed=1, root=root)  # 1 of 6 articles cannot cover 3 labels
