"""/opt/ml/model -> a fresh TorchServe model store holding the model as one *unpacked* archive, `MODEL_NAME`.

One `.mar` is extracted; `save_pretrained` files are packed with our handler by `torch-model-archiver
--archive-format no-archive` (the command of `make archive`, `tools.archive.archiver_command`, but into a
folder: nothing to zip at start-up and nothing for TorchServe to unzip). Then the environment's per-model
settings are written into the archive's model-config.yaml, because TorchServe lets an archive's
model-config.yaml win over config.properties for workers, batching and timeouts.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import zipfile
from collections.abc import Mapping
from pathlib import Path

import yaml

from bert_classifier.artifacts import validate_artifacts
from bert_classifier.errors import InvalidArtifacts
from sagemaker_serving.environment import ConfigError, ServeConfig
from torchserve_launcher.commands import archiver_command

log = logging.getLogger(__name__)

# The image copies the repository's layout (docker/Dockerfile), so model-config.yaml sits next to this package.
DEFAULT_MODEL_CONFIG = Path(__file__).resolve().parent.parent / "model-config.yaml"
MODEL_NAME = "model"
"""The model's name in the store and in TorchServe; `/invocations` goes to it."""


def prepare_model(config: ServeConfig) -> Path | None:
    """Fill a fresh model store with the model as an unpacked archive carrying the environment's settings
    (a multi-model endpoint: an empty store, and None).

    Returns the archive folder. Raises `ConfigError` when /opt/ml/model is missing or holds several .mar files,
    `InvalidArtifacts` when the model is unusable, `subprocess.CalledProcessError` when the archiver fails.
    """
    shutil.rmtree(config.model_store, ignore_errors=True)
    for folder in (config.model_store, config.tmp_dir, config.log_dir, config.activity_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if config.multi_model:  # SageMaker loads models later, through POST /models (multi_model.py)
        return None
    if not config.model_dir.is_dir():
        raise ConfigError(f"{config.model_dir} does not exist: SageMaker puts the model there")
    archives = sorted(config.model_dir.glob("*.mar"))
    if len(archives) > 1:
        names = ", ".join(archive.name for archive in archives)
        raise ConfigError(f"{config.model_dir} holds {len(archives)} .mar files ({names}); serve needs one")
    target = config.model_store / MODEL_NAME
    if archives:
        log.info("unpacking %s", archives[0])
        _unpack(archives[0], target)
    else:
        _archive_artifacts(config.model_dir, config.model_store, config.tmp_dir)
    apply_model_settings(target, config.model_settings())
    return target


def _unpack(archive: Path, target: Path) -> None:
    """Extract a .mar into `target`; `InvalidArtifacts` if it is not a zip file."""
    try:
        with zipfile.ZipFile(archive) as mar:
            mar.extractall(target)  # zipfile drops absolute paths and '..' from member names
    except zipfile.BadZipFile:
        raise InvalidArtifacts(f"{archive} is not a TorchServe archive (not a zip file)") from None


def _archive_artifacts(model_dir: Path, store: Path, tmp_dir: Path) -> None:
    """`save_pretrained` files + our handler -> `<store>/model/`, with the command `tools/archive.py` runs."""
    summary = validate_artifacts(model_dir)
    log.info("packing %s (%s, labels: %s)", model_dir, summary.architecture, ", ".join(summary.labels))
    command = archiver_command(
        model_dir=model_dir,
        model_name=MODEL_NAME,
        version="1.0",
        config_file=_model_config_for(model_dir),
        export_path=store,
        archive_format="no-archive",
    )
    # The archiver stages files in $TMPDIR/<model-name>: keep that in our own folder.
    subprocess.run(command, check=True, env={**os.environ, "TMPDIR": str(tmp_dir)})


def _model_config_for(model_dir: Path) -> Path:
    """The model.tar.gz's own code/model-config.yaml (`make sagemaker-artifact` writes it, and script mode reads
    it too), else the image's default."""
    shipped = model_dir / "code" / "model-config.yaml"
    return shipped if shipped.is_file() else DEFAULT_MODEL_CONFIG


def apply_model_settings(model_dir: Path, settings: Mapping[str, int]) -> None:
    """Merge `settings` into the archive's model-config.yaml (adding one, and naming it in the manifest, if the
    archive has none). TorchServe takes workers, batching and timeouts from there before config.properties."""
    manifest_path = model_dir / "MAR-INF" / "MANIFEST.json"
    if not manifest_path.is_file():
        raise InvalidArtifacts(f"{model_dir} is not a TorchServe archive: MAR-INF/MANIFEST.json is missing")
    manifest = json.loads(manifest_path.read_text())
    config_name = manifest["model"].get("configFile") or "model-config.yaml"
    config_path = model_dir / config_name
    model_config = (yaml.safe_load(config_path.read_text()) if config_path.is_file() else None) or {}
    model_config.update(settings)
    config_path.write_text(yaml.safe_dump(model_config, sort_keys=False))
    if manifest["model"].get("configFile") != config_name:
        manifest["model"]["configFile"] = config_name
        manifest_path.write_text(json.dumps(manifest, indent=2))
    log.info("model settings: %s", {key: model_config.get(key) for key in sorted(model_config) if key != "handler"})
