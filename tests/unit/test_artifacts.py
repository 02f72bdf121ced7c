"""`validate_artifacts`: the tiny model passes; every broken variant fails naming its problem."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bert_classifier.artifacts import ModelSummary, validate_artifacts
from bert_classifier.errors import InvalidArtifacts
from tests.conftest import TINY_LABELS, save_tiny_bert

pytestmark = pytest.mark.unit


@pytest.fixture
def model_copy(tmp_path, tiny_bert_dir) -> Path:
    """A private, writable copy of the tiny model."""
    return Path(shutil.copytree(tiny_bert_dir, tmp_path / "model"))


def edit_config(folder: Path, **changes) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
    path.write_text(json.dumps(config), encoding="utf-8")


def test_tiny_model_passes_with_its_labels_and_architecture(tiny_bert_dir):
    summary = validate_artifacts(tiny_bert_dir)

    assert summary == ModelSummary(TINY_LABELS, "BertForSequenceClassification", None)
    assert summary.multi_label is False


def test_accepts_a_str_path(tiny_bert_dir):
    assert validate_artifacts(str(tiny_bert_dir)).labels == TINY_LABELS


def test_multi_label_problem_type_is_reported(model_copy):
    edit_config(model_copy, problem_type="multi_label_classification")

    summary = validate_artifacts(model_copy)

    assert summary.problem_type == "multi_label_classification"
    assert summary.multi_label is True


def test_labels_are_ordered_by_id_not_by_json_key_order(model_copy):
    edit_config(model_copy, id2label={"2": "tech", "0": "business", "1": "sport"})

    assert validate_artifacts(model_copy).labels == ("business", "sport", "tech")


def test_missing_folder(tmp_path):
    with pytest.raises(InvalidArtifacts, match="does not exist"):
        validate_artifacts(tmp_path / "nowhere")


def test_missing_config_json(model_copy):
    (model_copy / "config.json").unlink()

    with pytest.raises(InvalidArtifacts, match=r"config\.json is missing"):
        validate_artifacts(model_copy)


def test_config_json_that_is_not_json(model_copy):
    (model_copy / "config.json").write_text("{not json", encoding="utf-8")

    with pytest.raises(InvalidArtifacts, match=r"config\.json is not valid JSON"):
        validate_artifacts(model_copy)


def test_bare_bert_model_architecture_is_not_a_classifier(model_copy):
    edit_config(model_copy, architectures=["BertModel"])

    with pytest.raises(InvalidArtifacts, match=r"BertModel.*not a \*ForSequenceClassification"):
        validate_artifacts(model_copy)


def test_missing_architectures(model_copy):
    edit_config(model_copy, architectures=None)

    with pytest.raises(InvalidArtifacts, match="no architecture"):
        validate_artifacts(model_copy)


@pytest.mark.parametrize("id2label", [None, {}, ["business", "sport", "tech"]])
def test_missing_id2label(model_copy, id2label):
    edit_config(model_copy, id2label=id2label)

    with pytest.raises(InvalidArtifacts, match="no id2label"):
        validate_artifacts(model_copy)


def test_non_contiguous_label_ids(model_copy):
    edit_config(model_copy, id2label={"0": "business", "2": "sport", "3": "tech"})

    with pytest.raises(InvalidArtifacts, match=r"ids must be 0\.\.2, got \[0, 2, 3\]"):
        validate_artifacts(model_copy)


def test_non_integer_label_ids(model_copy):
    edit_config(model_copy, id2label={"0": "business", "one": "sport", "2": "tech"})

    with pytest.raises(InvalidArtifacts, match="keys must be integers"):
        validate_artifacts(model_copy)


def test_missing_weights_without_pickle_has_no_hint(model_copy):
    (model_copy / "model.safetensors").unlink()

    with pytest.raises(InvalidArtifacts, match=r"model\.safetensors is missing") as raised:
        validate_artifacts(model_copy)

    assert "pickle" not in str(raised.value)


@pytest.mark.parametrize("pickle_name", ["pytorch_model.bin", "model.pth"])
def test_missing_weights_with_a_pickle_file_hints_at_conversion(model_copy, pickle_name):
    (model_copy / "model.safetensors").unlink()
    (model_copy / pickle_name).write_bytes(b"not really a pickle")

    with pytest.raises(InvalidArtifacts, match=r"model\.safetensors is missing") as raised:
        validate_artifacts(model_copy)

    assert "pickled" in str(raised.value)
    assert "tools.import_state_dict" in str(raised.value)


def test_corrupt_weights_file(model_copy):
    (model_copy / "model.safetensors").write_bytes(b"\x00" * 64)

    with pytest.raises(InvalidArtifacts, match="not a readable safetensors file"):
        validate_artifacts(model_copy)


def test_weights_without_a_classification_head(model_copy):
    import torch
    from safetensors.torch import save_file

    save_file({"bert.embeddings.word_embeddings.weight": torch.zeros(4, 2)}, str(model_copy / "model.safetensors"))

    with pytest.raises(InvalidArtifacts, match="no classification head"):
        validate_artifacts(model_copy)


def test_no_tokenizer(model_copy):
    for name in ("tokenizer.json", "vocab.txt"):
        (model_copy / name).unlink(missing_ok=True)

    with pytest.raises(InvalidArtifacts, match=r"no tokenizer .*tokenizer\.json or vocab\.txt"):
        validate_artifacts(model_copy)


def test_vocab_txt_alone_is_a_tokenizer(model_copy):
    (model_copy / "tokenizer.json").unlink()
    (model_copy / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n", encoding="utf-8")

    assert validate_artifacts(model_copy).labels == TINY_LABELS


def test_head_rows_must_equal_the_number_of_labels(tmp_path):
    folder = save_tiny_bert(tmp_path / "three-labels", labels=("a", "b", "c"))
    edit_config(folder, id2label={"0": "a", "1": "b"}, label2id={"a": 0, "b": 1})

    with pytest.raises(InvalidArtifacts, match=r"head has 3 outputs but config\.json names 2 labels"):
        validate_artifacts(folder)
