"""Turn a bare BERT classifier state_dict (`torch.save(model.state_dict(), "x.pth")`) into a servable model.

    python -m tools.import_state_dict --state-dict x.pth --config config.json --vocab vocab.txt \\
        --output DIR [--labels business,entertainment,politics,sport,tech]

The output has the Hugging Face `save_pretrained` layout the server expects: config.json (with id2label),
model.safetensors (float32), tokenizer.json, tokenizer_config.json and vocab.txt. The .pth is read with
`torch.load(..., weights_only=True)` only: it may hold tensors, never arbitrary pickled objects.
Exit status 2 with a one-line message when the inputs do not fit together.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

DATA_PARALLEL_PREFIX = "module."
HEAD_WEIGHT = "classifier.weight"
MAX_KEYS_SHOWN = 10


class ImportFailed(Exception):
    """The state_dict, config, labels or vocabulary do not make a consistent BERT classifier."""


def parse_labels(text: str | None) -> list[str] | None:
    """`a,b,c` -> ["a", "b", "c"] (None stays None); empty or duplicate names are rejected."""
    if text is None:
        return None
    labels = [label.strip() for label in text.split(",")]
    if not all(labels) or len(set(labels)) != len(labels):
        raise ImportFailed(f"--labels must be distinct non-empty names separated by commas, got {text!r}")
    return labels


def read_config(path: Path, labels: Sequence[str] | None):
    """A BertConfig for sequence classification; `labels` (if given) define id2label/label2id.

    Without `labels`, config.json must already name them in `id2label`.
    """
    from transformers import BertConfig

    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("model_type", "bert") != "bert":
        raise ImportFailed(f"{path} describes a {data['model_type']!r} model; only BERT is supported")
    if labels:
        data["id2label"] = dict(enumerate(labels))
        data["label2id"] = {label: index for index, label in enumerate(labels)}
        data.pop("num_labels", None)
    elif not data.get("id2label"):
        raise ImportFailed(f"{path} has no id2label: name the labels with --labels a,b,c")
    data["architectures"] = ["BertForSequenceClassification"]
    # The weights are saved as float32 whatever the .pth held; a stale float16 dtype in the config would make
    # from_pretrained(dtype="auto") load them back in half precision.
    data.pop("torch_dtype", None)
    data["dtype"] = "float32"
    return BertConfig.from_dict(data)


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors by parameter name, with a DataParallel `module.` prefix removed.

    `weights_only=True` refuses anything but tensors and plain containers, so a .pth cannot run code.
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first_line = str(error).strip().splitlines()[0]
        raise ImportFailed(f"{path} holds more than tensors, refusing to unpickle it ({first_line})") from None
    except (RuntimeError, EOFError) as error:
        raise ImportFailed(f"{path} is not a readable torch.save file: {error}") from None
    if not isinstance(state, Mapping) or not all(isinstance(value, torch.Tensor) for value in state.values()):
        raise ImportFailed(f"{path} is not a state_dict (a mapping of parameter names to tensors)")
    return {key.removeprefix(DATA_PARALLEL_PREFIX): tensor for key, tensor in state.items()}


def build_model(config, state: Mapping[str, torch.Tensor]):
    """A BertForSequenceClassification holding exactly `state` (strict: no missing or unexpected keys)."""
    from transformers import BertForSequenceClassification

    model = BertForSequenceClassification(config)
    state = _without_non_persistent_buffers(model, state)
    _require_same_keys(model, state)
    _require_head_matches_labels(state, config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # shape mismatches: name the first one, not the whole report
        details = " ".join(line.strip() for line in str(error).splitlines()[1:3])
        raise ImportFailed(f"the state_dict does not fit the config: {details}") from None
    return model.float().eval()


def _without_non_persistent_buffers(model, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # Older transformers saved buffers such as `bert.embeddings.position_ids` that current versions
    # recompute instead of storing; they carry no learned weights, so dropping them loses nothing.
    expected = set(model.state_dict())
    recomputed = {name for name, _ in model.named_buffers()} - expected
    return {key: tensor for key, tensor in state.items() if key not in recomputed}


def _require_same_keys(model, state: Mapping[str, torch.Tensor]) -> None:
    expected = set(model.state_dict())
    missing = sorted(expected - set(state))
    unexpected = sorted(set(state) - expected)
    if missing or unexpected:
        raise ImportFailed(
            "the state_dict does not match BertForSequenceClassification for this config: "
            f"missing {_some(missing)}; unexpected {_some(unexpected)}"
        )


def _some(keys: Sequence[str]) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:MAX_KEYS_SHOWN])
    more = len(keys) - MAX_KEYS_SHOWN
    return f"{len(keys)} ({shown}{f', and {more} more' if more > 0 else ''})"


def _require_head_matches_labels(state: Mapping[str, torch.Tensor], config) -> None:
    head_rows = state[HEAD_WEIGHT].shape[0]
    if head_rows != config.num_labels:
        raise ImportFailed(
            f"{HEAD_WEIGHT} has {head_rows} outputs but there are {config.num_labels} labels "
            f"({', '.join(config.id2label[i] for i in range(config.num_labels))}); pass --labels with {head_rows} names"
        )


def vocabulary_is_lowercase(vocab: Path) -> bool:
    """True for an uncased vocabulary: no token has capitals, apart from bracketed specials like [CLS]."""
    tokens = vocab.read_text(encoding="utf-8").splitlines()
    return not any(token != token.lower() for token in tokens if not token.startswith("["))


def build_tokenizer(vocab: Path, do_lower_case: bool, model_max_length: int):
    """A fast WordPiece tokenizer from vocab.txt; raises if it cannot read the vocabulary's own words.

    transformers 5 needs `vocab=` here: `vocab_file=` is accepted but silently yields a tokenizer whose
    vocabulary is empty, so every word becomes [UNK].
    """
    from transformers import BertTokenizer

    tokenizer = BertTokenizer(vocab=str(vocab), do_lower_case=do_lower_case)
    tokenizer.model_max_length = model_max_length
    _require_known_words(tokenizer, vocab)
    return tokenizer


def _require_known_words(tokenizer, vocab: Path) -> None:
    words = [token for token in vocab.read_text(encoding="utf-8").splitlines() if token.isalpha()][:50]
    ids = tokenizer(" ".join(words), add_special_tokens=False)["input_ids"]
    if not words or all(token_id == tokenizer.unk_token_id for token_id in ids):
        raise ImportFailed(f"the tokenizer built from {vocab} maps its own words to [UNK]: is it a BERT vocab.txt?")


def save(model, tokenizer, vocab: Path, output: Path) -> None:
    """Write the `save_pretrained` layout into a temporary sibling folder, then rename it to `output`."""
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.partial-", dir=output.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        shutil.copyfile(vocab, staging / "vocab.txt")
        staging.chmod(0o755)  # mkdtemp makes it private; servers may read it as another user
        for path in staging.iterdir():
            path.chmod(0o644)
        if output.exists():
            output.rmdir()  # only ever an empty folder: main() refuses a non-empty one
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def import_state_dict(
    state_dict: Path,
    config: Path,
    vocab: Path,
    output: Path,
    labels: Sequence[str] | None = None,
    do_lower_case: bool | None = None,
) -> Path:
    """Convert and save. `do_lower_case` defaults to the config's, else to what vocab.txt implies."""
    model_config = read_config(config, labels)
    model = build_model(model_config, load_state_dict(state_dict))
    if do_lower_case is None:
        do_lower_case = getattr(model_config, "do_lower_case", None)
    if do_lower_case is None:
        do_lower_case = vocabulary_is_lowercase(vocab)
    tokenizer = build_tokenizer(vocab, do_lower_case, model_config.max_position_embeddings)
    save(model, tokenizer, vocab, output)
    return output


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.import_state_dict", description=__doc__.split("\n\n")[0], allow_abbrev=False
    )
    parser.add_argument("--state-dict", type=Path, required=True, help="file written by torch.save(state_dict)")
    parser.add_argument("--config", type=Path, required=True, help="the model's BERT config.json")
    parser.add_argument("--vocab", type=Path, required=True, help="the WordPiece vocab.txt")
    parser.add_argument("--output", type=Path, required=True, help="new (or empty) output folder")
    parser.add_argument("--labels", help="comma-separated label names in class-id order (overrides config id2label)")
    parser.add_argument(
        "--lowercase",
        dest="do_lower_case",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="lowercase input (default: config's do_lower_case, else detected from vocab.txt)",
    )
    args = parser.parse_args(argv)
    for name in ("state_dict", "config", "vocab"):
        if not getattr(args, name).is_file():
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)} is not a file")
    if args.output.exists() and (not args.output.is_dir() or any(args.output.iterdir())):
        parser.error(f"--output {args.output} already exists and is not an empty folder")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # everything is local; never reach for a model hub
    try:
        labels = parse_labels(args.labels)
        import_state_dict(
            args.state_dict, args.config, args.vocab, args.output, labels, do_lower_case=args.do_lower_case
        )
    except ImportFailed as error:
        print(f"import_state_dict: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
