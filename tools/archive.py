"""`make archive`: check a model folder, then pack it with our handler into a self-contained TorchServe .mar.

    python -m tools.archive --model-dir artifacts --model-name bert_news_classification --version 1.0

It runs (and prints) `archiver_command`, the one `torch-model-archiver` invocation the project uses; README
"Archive and serve" shows it and what `--extra-files` does with the folders.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from bert_classifier.artifacts import validate_artifacts
from bert_classifier.errors import InvalidArtifacts

ROOT = Path(__file__).resolve().parent.parent
HANDLERS = ROOT / "handlers"
REQUIRED_IN_ARCHIVE = (
    "torchserve_handler.py",
    "bert_classifier/service.py",
    "config.json",
    "model.safetensors",
)


def archiver_command(
    *,
    model_dir: str | Path,
    model_name: str,
    version: str,
    config_file: str | Path,
    export_path: str | Path,
    archive_format: str = "default",
) -> list[str]:
    """The torch-model-archiver invocation that packs `model_dir` with our handler into `export_path`.

    Paths are made absolute. `archive_format="default"` writes `<export_path>/<model_name>.mar`; any other
    format is passed on as `--archive-format` (`no-archive` writes the folder `<export_path>/<model_name>/`,
    as `sagemaker_serving.model_store` does at start-up).
    """
    command = [
        str(Path(sys.executable).with_name("torch-model-archiver")),
        "--model-name",
        model_name,
        "--version",
        version,
        "--handler",
        str(HANDLERS / "torchserve_handler.py"),
        "--extra-files",
        f"{HANDLERS},{Path(model_dir).resolve()}",
        "--config-file",
        str(Path(config_file).resolve()),
        "--export-path",
        str(Path(export_path).resolve()),
        "--force",
    ]
    if archive_format != "default":
        command += ["--archive-format", archive_format]
    return command


def build_archive(
    *,
    model_dir: str | Path,
    model_name: str,
    version: str,
    config_file: str | Path,
    export_path: str | Path,
) -> Path:
    """Validate `model_dir`, run `archiver_command`, and check the archive's contents; return the .mar path."""
    summary = validate_artifacts(model_dir)
    print(f"model ok: {summary.architecture}, {len(summary.labels)} labels: {', '.join(summary.labels)}")
    for cache in HANDLERS.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)  # keep bytecode caches out of the archive
    Path(export_path).mkdir(parents=True, exist_ok=True)
    command = archiver_command(
        model_dir=model_dir,
        model_name=model_name,
        version=version,
        config_file=config_file,
        export_path=export_path,
    )
    print("+", shlex.join(command), flush=True)
    # The archiver stages files in $TMPDIR/<model-name>: a private TMPDIR keeps parallel builds apart.
    with tempfile.TemporaryDirectory(prefix="mar-") as staging:
        subprocess.run(command, check=True, env={**os.environ, "TMPDIR": staging})
    mar = Path(export_path) / f"{model_name}.mar"
    _check_archive(mar)
    print(f"wrote {mar} ({mar.stat().st_size / 1e6:.1f} MB)")
    return mar


def _check_archive(mar: Path) -> None:
    with zipfile.ZipFile(mar) as archive:
        names = set(archive.namelist())
    missing = [name for name in REQUIRED_IN_ARCHIVE if name not in names]
    if missing:
        raise InvalidArtifacts(f"{mar} is missing {', '.join(missing)}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", default="artifacts", help="save_pretrained folder (default: artifacts)")
    parser.add_argument("--model-name", default="bert_news_classification", help="archive and endpoint name")
    parser.add_argument("--version", default="1.0", help="model version (default: 1.0)")
    parser.add_argument("--config-file", default=str(ROOT / "model-config.yaml"), help="per-model config")
    parser.add_argument("--export-path", default="model-store", help="where the .mar goes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        build_archive(**vars(args))
    except InvalidArtifacts as error:
        print(f"error: cannot archive {args.model_dir}: {error}", file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"error: torch-model-archiver failed with exit code {error.returncode}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
