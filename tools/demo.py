"""Send real BBC news articles the model never saw in training to the server and print its predictions.

    python -m tools.demo --url http://127.0.0.1:8080/predictions/bert_news_classification --per-label 2

The articles come from the held-out split that `make model` recorded in artifacts/split.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import requests

from training.corpus import read_article


def held_out_articles(model_dir: Path, per_label: int) -> list[tuple[str, str]]:
    """(true label, text) pairs: the first `per_label` held-out articles of each label."""
    split = json.loads((model_dir / "split.json").read_text())
    chosen: dict[str, list[tuple[str, str]]] = {}
    for item in split["test"]:
        picked = chosen.setdefault(item["label"], [])
        if len(picked) < per_label:
            picked.append((item["label"], read_article(item["path"])))
    return [pair for label in sorted(chosen) for pair in chosen[label]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080/predictions/bert_news_classification")
    parser.add_argument("--model-dir", type=Path, default=Path("artifacts"))
    parser.add_argument("--per-label", type=int, default=2)
    args = parser.parse_args(argv)
    articles = held_out_articles(args.model_dir, args.per_label)
    response = requests.post(args.url, json={"data": [text for _, text in articles]}, timeout=120)
    response.raise_for_status()
    predictions = response.json()
    print(f"POST {args.url}  ({len(articles)} held-out BBC articles in one request)\n")
    print(f"{'true':<14}{'predicted':<14}{'score':>7}  headline")
    for (label, text), prediction in zip(articles, predictions, strict=True):
        mark = "" if prediction["label"] == label else "   <-- wrong"
        headline = text.strip().splitlines()[0][:60]
        print(f"{label:<14}{prediction['label']:<14}{prediction['score']:>7.3f}  {headline}{mark}")
    correct = sum(p["label"] == label for (label, _), p in zip(articles, predictions, strict=True))
    print(f"\n{correct}/{len(articles)} correct")
    return 0


if __name__ == "__main__":
    sys.exit(main())
