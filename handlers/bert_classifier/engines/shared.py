"""One probe per model and host: the first worker to start probes (the others wait on a lock, leaving it the
cores) and records the choice; every later worker of the same model on this host reads it and builds only the
chosen engine: the other workers of its pool, the explanations pool of the same archive, and the next start of
the server. Every pool then serves the same variant, and so the same scores for the same text.

The record is keyed by what the choice depends on: the model's shape (its config, its files' sizes, the gate's
verdicts), the candidates, the threads and the settings that change the work, the CPU (model name and flags) and
the engines' versions. Anything else changes the key, and the next worker probes afresh.

It lives in a private folder of the temp directory (`bert-classifier-<uid>`, mode 0700, owned by this user and
checked before use), never in the model folder, so read-only model folders work and no other local user can plant
a choice; a recorded choice outside the candidates is ignored. Where no private folder or lock can be had each
worker probes for itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

log = logging.getLogger(__name__)

IDENTITY_FILES = ("config.json", "engines.json")
"""Read whole into the model's fingerprint; the other files count by name and size."""
SIZED_FILES = ("model.safetensors", "model.onnx", "model-int8.onnx", "tokenizer.json")


def model_fingerprint(model_dir: str | Path) -> str:
    """The same for every unpacked copy of one archive (TorchServe unpacks each registration apart)."""
    digest = hashlib.sha256()
    for name in (*IDENTITY_FILES, *SIZED_FILES):
        path = Path(model_dir) / name
        if not path.is_file():
            continue
        digest.update(f"{name}:{path.stat().st_size}\n".encode())
        if name in IDENTITY_FILES:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def private_folder(parent: str | Path | None = None) -> Path | None:
    """`bert-classifier-<uid>` in the temp directory, made 0700; None unless it is a real folder of this user's
    that nobody else can write."""
    getuid = getattr(os, "getuid", None)
    if getuid is None:  # no user ids (Windows): nothing to check ownership against
        return None
    folder = Path(parent or tempfile.gettempdir()) / f"bert-classifier-{getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    private = stat.S_ISDIR(info.st_mode) and info.st_uid == getuid() and not info.st_mode & 0o077
    if not private:
        log.warning("engine choice not shared: %s is not a private folder of this user", folder)
    return folder if private else None


@contextlib.contextmanager
def shared_choice(
    model_dir: str | Path, key: dict, candidates: list[str]
) -> Iterator[tuple[dict | None, Callable[[dict], None]]]:
    """Under the model's lock: (the recorded choice if it was made for the same `key` and chose one of
    `candidates`, else None; a function that records a new choice)."""
    key = {**key, "model": model_fingerprint(model_dir)}
    folder = private_folder()
    try:
        import fcntl

        if folder is None:
            raise PermissionError("no private folder")
        path = folder / f"engine-{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}.json"
        lock = path.with_suffix(".lock").open("a")
    except (ImportError, OSError) as error:  # no fcntl (Windows), or no private, writable temp folder
        log.info("engine choice not shared between workers (%s)", type(error).__name__)
        yield None, lambda record: None
        return
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        recorded = _read(path, key)
        if recorded is not None and recorded.get("chosen") not in candidates:
            log.warning("ignoring a recorded engine choice that is not among this model's candidates")
            recorded = None
        yield recorded, lambda record: write_json(path, {**record, "key": key}, "the engine choice for other workers")


def _read(path: Path, key: dict) -> dict | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and record.get("key") == key else None


def write_json(path: Path, data, what: str) -> None:
    """Replace `path` with `data` as JSON in one step (readers never see half a file); a failure is logged as not
    having recorded `what`, since every record in the private folder is an optimisation."""
    staging = path.with_suffix(f".{os.getpid()}.tmp")
    try:
        staging.write_text(json.dumps(data), encoding="utf-8")
        os.replace(staging, path)
    except OSError as error:
        log.info("could not record %s: %s", what, error)
