"""The `torchserve` and `torch-model-archiver` command lines."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
"""Our handler and the serving core it ships (`--extra-files` copies this folder's contents into an archive)."""


def console_script(name: str) -> str:
    """A console script installed next to this interpreter (the virtualenv's or the image's)."""
    return str(Path(sys.executable).with_name(name))


def torchserve_command(
    *,
    model_store: str | Path,
    ts_config: str | Path,
    log_config: str | Path | None = None,
    models: str | None = None,
    foreground: bool = True,
) -> list[str]:
    """`torchserve --start` with no config snapshots (`--ncs`), by default in the foreground (the caller owns the
    process; `torchserve --stop` finds it through the pid file in `$TMPDIR`)."""
    command = [console_script("torchserve"), "--start", "--ncs"]
    command += ["--foreground"] if foreground else []
    command += ["--model-store", str(model_store), "--ts-config", str(ts_config)]
    command += ["--log-config", str(log_config)] if log_config else []
    command += ["--models", models] if models else []
    return command


def archiver_command(
    *,
    model_dir: str | Path,
    model_name: str,
    version: str,
    config_file: str | Path,
    export_path: str | Path,
    archive_format: str = "default",
    engines_dir: str | Path | None = None,
) -> list[str]:
    """The torch-model-archiver invocation that packs `model_dir` with our handler into `export_path`.

    Paths are made absolute. `archive_format="default"` writes `<export_path>/<model_name>.mar`; any other
    format is passed on as `--archive-format` (`no-archive` writes the folder `<export_path>/<model_name>/`,
    as `sagemaker_serving.model_store` does at start-up). `engines_dir` (ONNX files and engines.json) is packed
    as a third extra-files folder.
    """
    extra: Sequence[str | Path | None] = (HANDLERS, model_dir, engines_dir)
    command = [
        console_script("torch-model-archiver"),
        "--model-name",
        model_name,
        "--version",
        version,
        "--handler",
        str(HANDLERS / "torchserve_handler.py"),
        "--extra-files",
        ",".join(str(Path(folder).resolve()) for folder in extra if folder),
        "--config-file",
        str(Path(config_file).resolve()),
        "--export-path",
        str(Path(export_path).resolve()),
        "--force",
    ]
    if archive_format != "default":
        command += ["--archive-format", archive_format]
    return command
