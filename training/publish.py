"""Putting a finished model folder in place without ever leaving a half-written one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def publish(staging: Path, output: Path) -> None:
    """Put the finished `staging` folder at `output` by renames, replacing any previous model.

    Hidden files of a previous output (e.g. the tracked artifacts/.gitkeep) are carried over. Modes are made
    world-readable: mkdtemp creates 0700 folders, and images or servers may read the model as another user.
    """
    make_readable(staging)
    if not output.exists():
        staging.rename(output)
        return
    for hidden in output.glob(".*"):
        if hidden.is_file():
            shutil.copy2(hidden, staging / hidden.name)
    retired = output.with_name(f".{output.name}.old-{os.getpid()}")
    output.rename(retired)
    try:
        staging.rename(output)
    except OSError:
        retired.rename(output)  # put the previous model back rather than leave none
        raise
    shutil.rmtree(retired)


def make_readable(folder: Path) -> None:
    folder.chmod(0o755)
    for path in folder.iterdir():
        path.chmod(0o755 if path.is_dir() else 0o644)
