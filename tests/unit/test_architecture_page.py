"""`tests.architecture_page`: the architecture matrix's table in docs/architectures.md."""

from __future__ import annotations

import pytest

from tests.architecture_page import PAGE, render_table, table_in, with_table, without_column

pytestmark = pytest.mark.unit


def test_a_table_replaces_the_one_between_the_markers_and_reads_back_the_same():
    page = "# Title\n\n<!-- architecture-matrix:start -->\nold\n<!-- architecture-matrix:end -->\n\nProse.\n"
    table = render_table(["architecture", "forward"], [["BERT", "packed"], ["RoBERTa", "padded"]])

    written = with_table(page, table)

    assert table_in(written) == table
    assert written.startswith("# Title\n\n")
    assert written.endswith("\n\nProse.\n")
    assert "old" not in written


def test_dropping_a_column_drops_it_from_the_header_the_rule_and_every_row():
    table = render_table(["a", "b", "c"], [["1", "2", "3"]])

    assert without_column(table, 1) == render_table(["a", "c"], [["1", "3"]])


def test_the_committed_page_has_a_table_with_a_row_per_tested_architecture():
    from tests.architectures import ARCHITECTURES

    rows = table_in(PAGE.read_text(encoding="utf-8")).splitlines()[2:]

    assert [row.split("|")[1].strip() for row in rows] == [architecture.title for architecture in ARCHITECTURES]
