"""`tools/explain.py`: the text shaded word by word on a terminal, plain off one, and a self-contained HTML page."""

from __future__ import annotations

import io
import re

import pytest

from tools import explain as tool

pytestmark = pytest.mark.unit

TEXT = "Rates <rose> & fell."
RESULT = {
    "label": "business",
    "label_id": 0,
    "score": 0.91,
    "predicted_label": "business",
    "truncated": False,
    "words": [
        {"word": "Rates", "start": 0, "end": 5, "attribution": 0.8},
        {"word": "<", "start": 6, "end": 7, "attribution": 0.01},
        {"word": "rose", "start": 7, "end": 11, "attribution": 0.4},
        {"word": ">", "start": 11, "end": 12, "attribution": 0.0},
        {"word": "&", "start": 13, "end": 14, "attribution": 0.0},
        {"word": "fell", "start": 15, "end": 19, "attribution": -0.3},
        {"word": ".", "start": 19, "end": 20, "attribution": 0.0},
    ],
    "log_score": -0.09,
    "baseline_log_score": -1.0,
    "convergence_delta": 0.002,
    "steps": 64,
}
ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def test_the_spans_rebuild_the_text_exactly():
    assert "".join(span.text for span in tool.spans(TEXT, RESULT["words"])) == TEXT


def test_the_terminal_shades_words_green_or_red_by_their_share_and_leaves_the_text_intact():
    shaded = tool.ansi(TEXT, RESULT)

    assert ESCAPE.sub("", shaded) == TEXT
    assert "\x1b[30;48;5;83mRates\x1b[0m" in shaded  # the largest: strongest green
    assert "\x1b[30;48;5;157mrose\x1b[0m" in shaded  # half of it
    assert "\x1b[30;48;5;217mfell\x1b[0m" in shaded  # negative: red
    assert "m<\x1b" not in shaded  # a hundredth of the largest: no shade


@pytest.mark.parametrize(("environment", "tty", "colour"), [({}, True, True), ({}, False, False),
                                                            ({"NO_COLOR": "1"}, True, False),
                                                            ({"TERM": "dumb"}, True, False)])  # fmt: skip
def test_colours_only_on_a_terminal_that_wants_them(monkeypatch, environment, tty, colour):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    stream = io.StringIO()
    stream.isatty = lambda: tty

    assert tool.use_colour("auto", stream) is colour
    assert tool.use_colour("always", stream) is True
    assert tool.use_colour("never", stream) is False


def test_off_a_terminal_the_text_is_plain_and_the_strongest_words_are_listed(monkeypatch, capsys):
    monkeypatch.setattr(tool, "explain", lambda *args: RESULT)

    tool.main(["--color", "auto", TEXT])  # pytest's captured stdout is not a terminal

    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert TEXT in out
    assert "+0.8000  Rates  [0:5]" in out
    assert "-0.3000  fell  [15:19]" in out
    assert "business (score 0.910)" in out


def test_the_html_page_is_self_contained_and_escapes_the_text(tmp_path, monkeypatch):
    monkeypatch.setattr(tool, "explain", lambda *args: RESULT)
    page = tmp_path / "explanation.html"

    tool.main(["--color", "never", "--html", str(page), TEXT])

    document = page.read_text()
    assert document.startswith("<!DOCTYPE html>")
    assert "&lt;" in document
    assert "&amp;" in document
    assert "<rose>" not in document
    assert "<script" not in document
    assert "http" not in document  # nothing loaded from elsewhere
    assert 'background:rgba(0,150,0,1.0)" title="+0.800000">Rates</span>' in document
    assert 'background:rgba(200,0,0,0.375)" title="-0.300000">fell</span>' in document
