"""One probe per model and server: the first worker of a model to start probes (the others wait on a lock,
leaving it the cores) and records the choice; the rest read it and build only the chosen engine. Every worker of
the model then serves the same variant, and so the same scores for the same text.

The record lives in the temp folder, named after the model folder and the parent process (a TorchServe
frontend starts every worker of its models), never in the model folder: a new server probes afresh, and
read-only model folders work. Where no lock can be taken each worker probes for itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)


def record_path(model_dir: str | Path) -> Path:
    identity = f"{Path(model_dir).resolve()}|{os.getppid()}"
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"bert-classifier-engine-{digest}.json"


@contextlib.contextmanager
def shared_choice(model_dir: str | Path, key: dict) -> Iterator[tuple[dict | None, Callable[[dict], None]]]:
    """Under the model's lock: (the recorded choice if it was made for the same `key`, else None; a function that
    records a new choice). `key` holds what the choice depends on (the candidates, the threads)."""
    path = record_path(model_dir)
    try:
        import fcntl

        lock = path.with_suffix(".lock").open("a")
    except (ImportError, OSError) as error:  # no fcntl (Windows), or no writable temp folder
        log.info("engine choice not shared between workers (%s)", type(error).__name__)
        yield None, lambda record: None
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _read(path, key), lambda record: _write(path, {**record, "key": key})


def _read(path: Path, key: dict) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def _write(path: Path, record: dict) -> None:
    staging = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        staging.write_text(json.dumps(record), encoding="utf-8")
        os.replace(staging, path)
    except OSError as error:
        log.info("could not record the engine choice for other workers: %s", error)
