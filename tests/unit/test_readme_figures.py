"""README's measured figures are copies of committed reports (issue 12.4): every number inside a block
`<!-- figures from docs/X.md -->` ... `<!-- end figures -->` must appear in docs/X.md, the output of the command that
measured it (`make bench`, `make reliability`, `make model-card`, ...). Re-running a command and forgetting the README
fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[2]
BLOCK = re.compile(r"<!-- figures from (\S+) -->(.*?)<!-- end figures -->", re.S)
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
"""A number as written (thousands separators and decimals kept): 1,153 and 0.91 must appear as such."""


def figure_blocks(text: str) -> list[tuple[str, str]]:
    return [(source, body) for source, body in BLOCK.findall(text)]


def numbers(text: str) -> set[str]:
    return {match.rstrip(",") for match in NUMBER.findall(text)}


def test_the_readme_marks_its_measured_figures_with_their_reports():
    sources = {source for source, _ in figure_blocks((ROOT / "README.md").read_text(encoding="utf-8"))}
    assert {"docs/bench.md", "docs/reliability.md", "docs/explanations.md"} <= sources


@pytest.mark.parametrize(
    ("source", "block"), figure_blocks((ROOT / "README.md").read_text(encoding="utf-8")), ids=lambda v: v[:30]
)
def test_every_figure_in_a_readme_block_is_in_its_report(source, block):
    report = (ROOT / source).read_text(encoding="utf-8")
    missing = sorted(numbers(block) - numbers(report), key=lambda n: float(n.replace(",", "")))
    assert not missing, f"README figures not in {source}: {missing}"


def test_a_figure_the_report_does_not_hold_is_found():
    block = "served 433 texts/s, 0.55×, 1,153 and 98.50%"
    assert numbers(block) - numbers("433 and 0.55 and 98.50") == {"1,153"}
