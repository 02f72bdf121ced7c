"""`tools.accuracy_gate`: the rule, the held-out data, and the record a worker reads."""

from __future__ import annotations

import json

import pytest

from bert_classifier.engines.variants import read_verdicts
from tools.accuracy_gate import (
    MAX_DISAGREEMENT,
    MAX_LOSS_POINTS,
    held_out_pairs,
    judge,
    render,
    run_gate,
    write_manifest,
)

pytestmark = pytest.mark.unit

SETTINGS = {"max_length": 64, "long_text": "truncate", "token_budget": 512}


@pytest.mark.parametrize(
    ("accuracy", "agreement", "eligible"),
    [
        (0.985, 1.0, True),  # equal
        (0.990, 0.995, True),  # better, a few disagreements
        (0.985 - MAX_LOSS_POINTS / 100, 1 - MAX_DISAGREEMENT, True),  # exactly on both bounds
        (0.985 - MAX_LOSS_POINTS / 100 - 0.0001, 1.0, False),  # loses a bit more than 0.5 points
        (0.985, 1 - MAX_DISAGREEMENT - 0.0001, False),  # disagrees on a bit more than 1%
    ],
)
def test_a_variant_is_eligible_within_half_a_point_and_one_percent_disagreement(accuracy, agreement, eligible):
    assert judge(accuracy, 0.985, agreement).eligible is eligible


def test_the_reason_names_the_bound_broken():
    assert "loses 1.00 points" in judge(0.975, 0.985, 1.0).reason
    assert "disagrees" in judge(0.985, 0.985, 0.9).reason


def test_held_out_data_is_split_json_or_a_json_lines_file(tmp_path, tiny_bert_dir):
    assert held_out_pairs(tiny_bert_dir) is None
    lines = tmp_path / "held-out.jsonl"
    lines.write_text('{"text": "Shares rose.", "label": "business"}\n\n{"text": "A goal.", "label": "sport"}\n')
    pairs, source = held_out_pairs(tiny_bert_dir, lines)
    assert pairs == [("Shares rose.", "business"), ("A goal.", "sport")]
    assert "2 texts" in source


def test_measuring_without_held_out_data_says_which_flags_to_use(tiny_bert_dir, tiny_engines_dir):
    with pytest.raises(FileNotFoundError, match=r"--held-out.*--gate accept.*--gate skip"):
        run_gate(tiny_bert_dir, tiny_engines_dir, SETTINGS, "measure")


@pytest.mark.parametrize(("mode", "onnx_eligible"), [("accept", True), ("skip", False)])
def test_accept_and_skip_decide_without_measuring(tiny_bert_dir, tiny_engines_dir, tmp_path, mode, onnx_eligible):
    record = run_gate(tiny_bert_dir, tiny_engines_dir, SETTINGS, mode)
    verdicts = {row["variant"]: row["eligible"] for row in record["variants"]}
    assert verdicts["torch-fp32"] is True
    assert verdicts["onnxruntime-fp32"] is verdicts["onnxruntime-int8"] is onnx_eligible
    write_manifest(record, tmp_path)
    assert read_verdicts(tmp_path).gate == {"accept": "accepted", "skip": "skipped"}[mode]


def test_measuring_classifies_the_held_out_texts_with_every_variant(tiny_bert_dir, tiny_engines_dir, tmp_path):
    texts = ["Shares rose after profits beat forecasts.", "The striker scored twice.", "A new chip, faster."] * 4
    lines = tmp_path / "held-out.jsonl"
    lines.write_text("".join(json.dumps({"text": t, "label": "business"}) + "\n" for t in texts))
    record = run_gate(tiny_bert_dir, tiny_engines_dir, SETTINGS, "measure", lines)
    rows = {row["variant"]: row for row in record["variants"]}
    assert {"torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"} <= set(rows)
    assert rows["torch-fp32"]["agreement"] == 1.0
    assert rows["onnxruntime-fp32"]["accuracy"] == rows["torch-fp32"]["accuracy"]  # the same model, exported
    assert all(row["total"] == len(texts) for row in rows.values())
    assert record["gate"]["mode"] == "measured"
    markdown = render(record)
    assert "| onnxruntime-int8 |" in markdown
    assert "12 texts of held-out.jsonl" in markdown
