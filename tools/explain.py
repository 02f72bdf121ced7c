"""Explain a text through the running server and show it with each word shaded by its attribution.

    python -m tools.explain --url http://127.0.0.1:8080/explanations/bert_news_classification "Some text"
    python -m tools.explain ... --html explanation.html "Some text"     # also a self-contained HTML page

Green words pushed the model towards the explained label, red words away from it; the stronger the shade, the
larger the word's share. Colours are ANSI escapes on a terminal; off a terminal (a pipe, a file, NO_COLOR or
TERM=dumb) the text is printed plain, followed by the words that counted most, with their attributions.
"""

from __future__ import annotations

import argparse
import html
import math
import os
import sys
from dataclasses import dataclass

import requests

POSITIVE = (None, 194, 157, 120, 83)
"""xterm-256 backgrounds from faint to strong green (level 0: no shade)."""
NEGATIVE = (None, 224, 217, 210, 203)
"""The same ramp in red."""
STRONGEST = 8
"""Words listed after the plain text when there are no colours."""
STYLE = (
    "body{font:16px/1.6 sans-serif;max-width:50em;margin:2em auto}p.text{white-space:pre-wrap}span{border-radius:3px}"
)


@dataclass(frozen=True)
class Span:
    """A stretch of the text: a word with its attribution, or the characters between words (None)."""

    text: str
    attribution: float | None


def spans(text: str, words: list[dict]) -> list[Span]:
    """The whole text cut at the words' offsets, in order (what lies between words, unshaded)."""
    pieces, position = [], 0
    for word in words:
        if word["start"] > position:
            pieces.append(Span(text[position : word["start"]], None))
        pieces.append(Span(text[word["start"] : word["end"]], word["attribution"]))
        position = word["end"]
    if position < len(text):
        pieces.append(Span(text[position:], None))
    return pieces


def level(attribution: float, largest: float) -> int:
    """0-4: the word's share of the largest attribution, in quarters rounded up (below a tenth: no shade)."""
    share = abs(attribution) / largest if largest else 0.0
    return 0 if share < 0.1 else min(4, math.ceil(share * 4))


def ansi(text: str, result: dict) -> str:
    largest = max((abs(word["attribution"]) for word in result["words"]), default=0.0)
    out = []
    for span in spans(text, result["words"]):
        shade = 0 if span.attribution is None else level(span.attribution, largest)
        if shade:
            colour = (POSITIVE if span.attribution > 0 else NEGATIVE)[shade]
            out.append(f"\x1b[30;48;5;{colour}m{span.text}\x1b[0m")
        else:
            out.append(span.text)
    return "".join(out)


def plain(text: str, result: dict) -> str:
    strongest = sorted(result["words"], key=lambda word: -abs(word["attribution"]))[:STRONGEST]
    lines = [text, "", "words that counted most:"]
    lines += [f"  {word['attribution']:+.4f}  {word['word']}  [{word['start']}:{word['end']}]" for word in strongest]
    return "\n".join(lines)


def summary(result: dict) -> str:
    line = f"{result['label']} (score {result['score']:.3f})"
    if result["predicted_label"] != result["label"]:
        line += f", predicted {result['predicted_label']}"
    total = sum(word["attribution"] for word in result["words"])
    line += (
        f"; the words add up to {total:+.3f}: log score {result['log_score']:.3f} minus the baseline's "
        f"{result['baseline_log_score']:.3f}, plus the convergence delta {result['convergence_delta']:+.4f} "
        f"({result['steps']} steps)"
    )
    return line + ("; text truncated" if result["truncated"] else "")


def page(text: str, result: dict) -> str:
    """A self-contained HTML page: inline style, no script, every text escaped."""
    largest = max((abs(word["attribution"]) for word in result["words"]), default=0.0) or 1.0
    body = []
    for span in spans(text, result["words"]):
        if span.attribution is None:
            body.append(html.escape(span.text))
            continue
        rgb = "0,150,0" if span.attribution > 0 else "200,0,0"
        alpha = round(abs(span.attribution) / largest, 3)
        body.append(
            f'<span style="background:rgba({rgb},{alpha})" title="{span.attribution:+.6f}">'
            f"{html.escape(span.text)}</span>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Explanation: '
        f"{html.escape(result['label'])}</title>\n<style>{STYLE}</style></head><body>\n"
        f"<h1>{html.escape(result['label'])}</h1>\n<p>{html.escape(summary(result))}</p>\n"
        '<p><span style="background:rgba(0,150,0,0.6)">towards the label</span> '
        '<span style="background:rgba(200,0,0,0.6)">away from it</span> (hover a word for its attribution)</p>\n'
        f'<p class="text">{"".join(body)}</p>\n</body></html>\n'
    )


def use_colour(choice: str, stream) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def explain(url: str, text: str, target: str | None, steps: int | None, timeout: float) -> dict:
    parameters = {name: value for name, value in (("target", target), ("steps", steps)) if value is not None}
    document = {"text": text} | ({"parameters": parameters} if parameters else {})
    response = requests.post(url, json=document, timeout=timeout)
    if response.status_code != 200:
        raise SystemExit(f"error: {url} answered {response.status_code}: {response.text[:500]}")
    return response.json()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("text", help="the text to explain")
    parser.add_argument("--url", default="http://127.0.0.1:8080/explanations/bert_news_classification")
    parser.add_argument("--target", help="the label to explain (default: the predicted one)")
    parser.add_argument("--steps", type=int, help="integration steps (default: the server's explain_steps)")
    parser.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page to FILE")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the server")
    args = parser.parse_args(argv)
    result = explain(args.url, args.text, args.target, args.steps, args.timeout)
    print(summary(result))
    print()
    print(ansi(args.text, result) if use_colour(args.color, sys.stdout) else plain(args.text, result))
    if args.html:
        with open(args.html, "w", encoding="utf-8") as page_file:
            page_file.write(page(args.text, result))
        print(f"\nwrote {args.html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
