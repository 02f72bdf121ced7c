"""tools.import_state_dict: a bare .pth state_dict + config.json + vocab.txt -> save_pretrained folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from tests.conftest import TINY_LABELS, packaged_checkpoint_dir
from tools.import_state_dict import ImportFailed, build_tokenizer, main, vocabulary_is_lowercase

pytestmark = pytest.mark.unit

TEXTS = ["Shares in the carmaker rose 5% after record sales.", "The striker scored twice in the final."]


class NotATensor:
    """Anything but a tensor: weights_only loading must refuse to unpickle it."""


@pytest.fixture(scope="module")
def source(tiny_bert_dir):
    """The tiny model and tokenizer the state_dicts are taken from (the reference predictions)."""
    from transformers import AutoTokenizer, BertForSequenceClassification

    return BertForSequenceClassification.from_pretrained(tiny_bert_dir).eval(), AutoTokenizer.from_pretrained(
        tiny_bert_dir
    )


def logits_of(model, tokenizer) -> torch.Tensor:
    with torch.inference_mode():
        return model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits


def save_state(state: dict, path: Path) -> Path:
    torch.save(state, path)
    return path


def run_import(tiny_bert_dir: Path, state_dict: Path, output: Path, *extra: str, config: Path | None = None) -> int:
    """Run the CLI with the tiny model's config.json (or `config`) and the real uncased vocab.txt."""
    return main(
        [
            "--state-dict",
            str(state_dict),
            "--config",
            str(config or tiny_bert_dir / "config.json"),
            "--vocab",
            str(packaged_checkpoint_dir() / "vocab.txt"),
            "--output",
            str(output),
            *extra,
        ]
    )


def load_output(folder: Path):
    from transformers import AutoTokenizer, BertForSequenceClassification

    return BertForSequenceClassification.from_pretrained(folder).eval(), AutoTokenizer.from_pretrained(folder)


def test_round_trip_reproduces_predictions_and_tokens(tiny_bert_dir, source, tmp_path):
    model, tokenizer = source
    pth = save_state(model.state_dict(), tmp_path / "x.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out") == 0

    imported_model, imported_tokenizer = load_output(tmp_path / "out")
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.txt"} <= {
        path.name for path in (tmp_path / "out").iterdir()
    }
    assert imported_tokenizer(TEXTS)["input_ids"] == tokenizer(TEXTS)["input_ids"]
    assert imported_tokenizer.unk_token_id not in imported_tokenizer(TEXTS[0])["input_ids"]
    assert torch.allclose(logits_of(imported_model, imported_tokenizer), logits_of(model, tokenizer), atol=1e-6)
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["id2label"] == {str(i): label for i, label in enumerate(TINY_LABELS)}
    assert config["architectures"] == ["BertForSequenceClassification"]
    assert all(tensor.dtype == torch.float32 for tensor in imported_model.state_dict().values())


def test_data_parallel_prefix_is_stripped(tiny_bert_dir, source, tmp_path):
    model, tokenizer = source
    wrapped = {f"module.{key}": tensor for key, tensor in model.state_dict().items()}
    pth = save_state(wrapped, tmp_path / "dp.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out") == 0

    imported_model, _ = load_output(tmp_path / "out")
    assert torch.allclose(logits_of(imported_model, tokenizer), logits_of(model, tokenizer), atol=1e-6)


def test_labels_flag_overrides_config_labels(tiny_bert_dir, source, tmp_path):
    pth = save_state(source[0].state_dict(), tmp_path / "x.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out", "--labels", "alpha, beta,gamma") == 0

    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["id2label"] == {"0": "alpha", "1": "beta", "2": "gamma"}
    assert config["label2id"] == {"alpha": 0, "beta": 1, "gamma": 2}


def test_old_position_ids_buffer_is_accepted(tiny_bert_dir, source, tmp_path):
    # transformers < 4.31 stored this recomputed buffer in every state_dict.
    state = dict(source[0].state_dict())
    state["bert.embeddings.position_ids"] = torch.arange(512).unsqueeze(0)
    pth = save_state(state, tmp_path / "old.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out") == 0


def test_wrong_keys_fail_with_one_line_naming_them(tiny_bert_dir, source, tmp_path, capsys):
    state = dict(source[0].state_dict())
    state["head.bias"] = state.pop("classifier.bias")
    pth = save_state(state, tmp_path / "renamed.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out") == 2

    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "missing 1 (classifier.bias)" in error
    assert "unexpected 1 (head.bias)" in error
    assert "Traceback" not in error
    assert not (tmp_path / "out").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["renamed.pth"]  # no staging folder left


def test_many_wrong_keys_are_summarised(tiny_bert_dir, source, tmp_path, capsys):
    state = {f"encoder.{key}": tensor for key, tensor in source[0].state_dict().items()}
    pth = save_state(state, tmp_path / "foreign.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out") == 2

    error = capsys.readouterr().err
    assert f"missing {len(state)} (" in error
    assert f"and {len(state) - 10} more" in error


def test_label_count_mismatch_names_both_numbers(tiny_bert_dir, source, tmp_path, capsys):
    pth = save_state(source[0].state_dict(), tmp_path / "x.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out", "--labels", "business,sport") == 2

    error = capsys.readouterr().err
    assert "classifier.weight has 3 outputs but there are 2 labels" in error
    assert not (tmp_path / "out").exists()


def test_pickled_objects_are_refused(tiny_bert_dir, tmp_path, capsys):
    pth = save_state({"classifier.weight": torch.zeros(3, 32), "extra": NotATensor()}, tmp_path / "evil.pth")

    assert run_import(tiny_bert_dir, pth, tmp_path / "out") == 2

    assert "refusing to unpickle" in capsys.readouterr().err


def test_config_without_labels_needs_the_labels_flag(tiny_bert_dir, source, tmp_path, capsys):
    config = json.loads((tiny_bert_dir / "config.json").read_text())
    del config["id2label"], config["label2id"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    pth = save_state(source[0].state_dict(), tmp_path / "x.pth")
    vocab = packaged_checkpoint_dir() / "vocab.txt"
    args = ["--state-dict", str(pth), "--vocab", str(vocab), "--output", str(tmp_path / "out")]

    assert main([*args, "--config", str(tmp_path / "config.json")]) == 2
    assert "--labels" in capsys.readouterr().err
    assert main([*args, "--config", str(tmp_path / "config.json"), "--labels", "a,b,c"]) == 0


def test_non_empty_output_folder_is_refused(tiny_bert_dir, source, tmp_path):
    pth = save_state(source[0].state_dict(), tmp_path / "x.pth")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("user data")

    with pytest.raises(SystemExit) as exit_info:
        run_import(tiny_bert_dir, pth, tmp_path / "out")

    assert exit_info.value.code == 2
    assert (tmp_path / "out" / "keep.txt").read_text() == "user data"


def test_lowercasing_is_inferred_from_the_vocabulary(tmp_path):
    cased = tmp_path / "cased.txt"
    cased.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nThe\nthe\nmarket\n")

    assert vocabulary_is_lowercase(packaged_checkpoint_dir() / "vocab.txt")
    assert not vocabulary_is_lowercase(cased)
    tokenizer = build_tokenizer(cased, do_lower_case=False, model_max_length=512)
    assert tokenizer.convert_ids_to_tokens(tokenizer("The market", add_special_tokens=False)["input_ids"]) == [
        "The",
        "market",
    ]


def test_vocabulary_without_words_is_rejected(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n##s\n")

    with pytest.raises(ImportFailed, match=r"\[UNK\]"):
        build_tokenizer(vocab, do_lower_case=True, model_max_length=512)


def test_half_precision_state_dict_is_saved_as_float32(tiny_bert_dir, source, tmp_path):
    config = json.loads((tiny_bert_dir / "config.json").read_text())
    config["torch_dtype"] = "float16"
    (tmp_path / "config.json").write_text(json.dumps(config))
    half = {
        key: tensor.half() if tensor.is_floating_point() else tensor for key, tensor in source[0].state_dict().items()
    }
    pth = save_state(half, tmp_path / "half.pth")

    code = run_import(tiny_bert_dir, pth, tmp_path / "out", config=tmp_path / "config.json")

    assert code == 0
    with safe_open(str(tmp_path / "out" / "model.safetensors"), framework="pt") as weights:
        assert {weights.get_slice(name).get_dtype() for name in weights.keys()} == {"F32"}  # noqa: SIM118
    assert json.loads((tmp_path / "out" / "config.json").read_text())["dtype"] == "float32"


def test_shape_mismatch_with_the_config_fails_clearly(tiny_bert_dir, source, tmp_path, capsys):
    config = json.loads((tiny_bert_dir / "config.json").read_text())
    config["intermediate_size"] = 128  # the state_dict was trained with 64
    (tmp_path / "config.json").write_text(json.dumps(config))
    pth = save_state(source[0].state_dict(), tmp_path / "x.pth")

    code = run_import(tiny_bert_dir, pth, tmp_path / "out", config=tmp_path / "config.json")

    assert code == 2
    error = capsys.readouterr().err
    assert "size mismatch" in error
    assert "intermediate" in error
    assert len(error.strip().splitlines()) == 1
