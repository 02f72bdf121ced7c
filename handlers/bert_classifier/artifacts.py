"""Check a model folder (Hugging Face `save_pretrained` layout) before loading or archiving it."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidArtifacts

WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt")
HEAD_WEIGHT = re.compile(r"(^|\.)(classifier|score)(\.out_proj)?\.weight$")


@dataclass(frozen=True)
class ModelSummary:
    """What the checks found: the labels (index = label id), the architecture and problem type."""

    labels: tuple[str, ...]
    architecture: str
    problem_type: str | None

    @property
    def multi_label(self) -> bool:
        return self.problem_type == "multi_label_classification"


def validate_artifacts(model_dir: str | Path) -> ModelSummary:
    """Raise `InvalidArtifacts` naming the missing file or the inconsistency; return a summary otherwise.

    Checks: config.json is a sequence classifier with contiguous `id2label`; weights are in safetensors; a
    tokenizer (tokenizer.json or vocab.txt) is present; the classification head has one row per label.
    """
    folder = Path(model_dir)
    if not folder.is_dir():
        raise InvalidArtifacts(f"model folder {folder} does not exist")
    config = _read_config(folder)
    labels = _labels(config)
    _require_tokenizer(folder)
    head_rows = _head_rows(folder)
    if head_rows != len(labels):
        raise InvalidArtifacts(
            f"the classification head has {head_rows} outputs but config.json names {len(labels)} labels"
        )
    architecture = (config.get("architectures") or ["?"])[0]
    return ModelSummary(labels, architecture, config.get("problem_type"))


def _read_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise InvalidArtifacts(f"{path} is missing (expected Hugging Face save_pretrained layout)")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidArtifacts(f"{path} is not valid JSON: {error}") from None
    architectures = config.get("architectures") or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        raise InvalidArtifacts(
            f"{path} describes {architectures or 'no architecture'}, not a *ForSequenceClassification model"
        )
    return config


def _labels(config: dict) -> tuple[str, ...]:
    id2label = config.get("id2label")
    if not isinstance(id2label, dict) or not id2label:
        raise InvalidArtifacts("config.json has no id2label mapping")
    try:
        by_id = {int(key): str(value) for key, value in id2label.items()}
    except ValueError:
        raise InvalidArtifacts("config.json id2label keys must be integers") from None
    if sorted(by_id) != list(range(len(by_id))):
        raise InvalidArtifacts(f"config.json id2label ids must be 0..{len(by_id) - 1}, got {sorted(by_id)}")
    return tuple(by_id[i] for i in range(len(by_id)))


def _require_tokenizer(folder: Path) -> None:
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise InvalidArtifacts(f"no tokenizer in {folder}: expected {' or '.join(TOKENIZER_FILES)}")


def _head_rows(folder: Path) -> int:
    from safetensors import safe_open

    path = folder / WEIGHTS_FILE
    if not path.is_file():
        hint = " (pickled .bin/.pth weights: convert with `python -m tools.import_state_dict`)"
        has_pickle = any(folder.glob("*.bin")) or any(folder.glob("*.pth"))
        raise InvalidArtifacts(f"{path} is missing{hint if has_pickle else ''}")
    try:
        with safe_open(str(path), framework="pt") as weights:
            heads = [key for key in weights.keys() if HEAD_WEIGHT.search(key)]  # noqa: SIM118
            if not heads:
                raise InvalidArtifacts(f"{path} has no classification head (classifier.weight)")
            return int(weights.get_slice(heads[-1]).get_shape()[0])
    except InvalidArtifacts:
        raise
    except Exception as error:  # noqa: BLE001 - safetensors raises several types for a corrupt file
        raise InvalidArtifacts(f"{path} is not a readable safetensors file: {error}") from None
