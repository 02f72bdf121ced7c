"""training.train: the command line, and a tiny end-to-end run (tiny model, a few articles) with its outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from safetensors import safe_open

from tests.conftest import packaged_checkpoint_dir
from training import train
from training.corpus import read_article

pytestmark = pytest.mark.unit

BBC_LABELS = ("business", "entertainment", "politics", "sport", "tech")
ARTIFACT_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "MODEL_CARD.md",
    "training_metrics.json",
    "split.json",
)


def test_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        train.parse_args(["--help"])

    assert exit_info.value.code == 0
    usage = capsys.readouterr().out
    for option in ("--output", "--base-model", "--epochs", "--max-length", "--batch-size", "--lr", "--seed"):
        assert option in usage
    for option in ("--test-size", "--limit-per-class", "--precision", "--frozen-layers"):
        assert option in usage


def tiny_run_args(base: Path, output: Path) -> list[str]:
    return [
        "--base-model",
        str(base),
        "--output",
        str(output),
        "--limit-per-class",
        "4",
        "--epochs",
        "1",
        "--max-length",
        "32",
        "--test-size",
        "0.25",  # 5 held-out articles: one per label
        "--frozen-layers",
        "1",  # of the tiny model's 2
    ]


@pytest.fixture(scope="module")
def trained_dir(tiny_bert_dir, tmp_path_factory) -> Path:
    """A tiny end-to-end run written over an existing output folder holding .gitkeep and a stale file."""
    output = tmp_path_factory.mktemp("train") / "artifacts"
    output.mkdir()
    (output / ".gitkeep").write_text("")
    (output / "stale.bin").write_text("from an older run")
    assert train.main(tiny_run_args(tiny_bert_dir, output)) == 0
    return output


def test_tiny_run_writes_every_artifact_and_replaces_the_old_output(trained_dir):
    names = {path.name for path in trained_dir.iterdir()}

    assert set(ARTIFACT_FILES) <= names
    assert ".gitkeep" in names
    assert "stale.bin" not in names
    assert [path.name for path in trained_dir.parent.iterdir()] == ["artifacts"]  # no staging left behind


def test_tiny_run_config_names_the_five_labels(trained_dir):
    config = json.loads((trained_dir / "config.json").read_text())

    assert config["architectures"] == ["BertForSequenceClassification"]
    assert config["id2label"] == {"0": "business", "1": "entertainment", "2": "politics", "3": "sport", "4": "tech"}
    assert config["label2id"]["sport"] == 3


def test_tiny_run_saves_float32_weights_with_a_five_way_head(trained_dir):
    with safe_open(str(trained_dir / "model.safetensors"), framework="pt") as weights:
        dtypes = {weights.get_slice(name).get_dtype() for name in weights.keys()}  # noqa: SIM118
        head_shape = weights.get_slice("classifier.weight").get_shape()

    assert dtypes == {"F32"}
    assert head_shape[0] == 5


def test_tiny_run_tokenizer_has_no_fixed_padding_or_truncation(trained_dir):
    from transformers import AutoTokenizer

    tokenizer_json = json.loads((trained_dir / "tokenizer.json").read_text())
    assert tokenizer_json["padding"] is None
    assert tokenizer_json["truncation"] is None
    tokenizer = AutoTokenizer.from_pretrained(trained_dir)
    assert tokenizer.model_max_length == 512
    assert len(tokenizer("word " * 300)["input_ids"]) == 302  # not cut or padded to 128 (or 32)
    expected_vocab = (packaged_checkpoint_dir() / "vocab.txt").read_text(encoding="utf-8")
    assert (trained_dir / "vocab.txt").read_text(encoding="utf-8") == expected_vocab


def test_tiny_run_split_lists_held_out_articles_that_exist(trained_dir):
    split = json.loads((trained_dir / "split.json").read_text())

    assert split["seed"] == 42
    assert sorted(item["label"] for item in split["test"]) == sorted(BBC_LABELS)
    for item in split["test"]:
        assert read_article(item["path"]).strip()


def test_tiny_run_metrics_and_model_card_agree(trained_dir):
    record = json.loads((trained_dir / "training_metrics.json").read_text())
    card = (trained_dir / "MODEL_CARD.md").read_text()

    held_out = record["held_out"]
    matrix = held_out["confusion_matrix"]
    right = sum(matrix[i][i] for i in range(len(matrix)))
    assert held_out["examples"] == sum(map(sum, matrix)) == 5
    assert held_out["errors"] == held_out["examples"] - right
    assert held_out["accuracy"] == pytest.approx(right / held_out["examples"], abs=1e-4)
    assert [row["support"] for row in held_out["per_class"].values()] == [sum(row) for row in matrix]
    assert record["data"]["train_per_class"] == dict.fromkeys(BBC_LABELS, 3)
    assert record["hyperparameters"]["max_length"] == 32
    # A tiny run can fine-tune in under 0.05 s, which rounds to 0.0: the whole run cannot.
    assert record["timing"]["total_seconds"] > record["timing"]["train_seconds"]
    assert record["machine"]["cpu_count"] == os.cpu_count()
    assert f"{record['held_out']['accuracy']:.4f}" in card
    assert f"{record['held_out']['macro_f1']:.4f}" in card
    assert "| sport | 3 | 1 |" in card


def test_tiny_run_serves_the_held_out_set_in_each_precision_for_the_card(trained_dir):
    from bert_classifier.device import cpu_supports_bf16

    record = json.loads((trained_dir / "training_metrics.json").read_text())
    card = (trained_dir / "MODEL_CARD.md").read_text()
    serving = record["serving"]

    expected = ["fp32", "bf16"] if cpu_supports_bf16() else ["fp32"]
    assert [r["precision"] for r in serving["results"]] == expected
    assert all(r["total"] == record["held_out"]["examples"] for r in serving["results"])
    assert serving["max_length"] == 256  # the shipped handler settings, not the training run's 32 tokens
    assert "## Serving precision" in card
    for result in serving["results"]:
        assert f"| {result['precision']} | {result['dtype']} | {result['correct']}/{result['total']} |" in card


def test_failed_run_leaves_the_previous_output_untouched(tiny_bert_dir, tmp_path, monkeypatch):
    output = tmp_path / "artifacts"
    output.mkdir()
    (output / "config.json").write_text("{}")

    def disagree(*args, **kwargs):
        raise RuntimeError("reloaded model disagrees")

    monkeypatch.setattr(train, "check_reload", disagree)
    with pytest.raises(RuntimeError, match="disagrees"):
        train.main(tiny_run_args(tiny_bert_dir, output))

    assert [path.name for path in output.iterdir()] == ["config.json"]
    assert [path.name for path in tmp_path.iterdir()] == ["artifacts"]


def test_too_small_held_out_fraction_is_refused(tiny_bert_dir, tmp_path, capsys):
    args = tiny_run_args(tiny_bert_dir, tmp_path / "out")
    args[args.index("0.25")] = "0.1"  # 2 of 20 articles cannot cover 5 labels

    assert train.main(args) == 2
    assert "fewer articles than there are labels" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_more_frozen_layers_than_the_model_has_is_refused(tiny_bert_dir, tmp_path, capsys):
    args = [*tiny_run_args(tiny_bert_dir, tmp_path / "out"), "--frozen-layers", "3"]  # the last one wins: 3 of 2

    assert train.main(args) == 2
    assert "3 frozen layers" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
