"""Which workers are handling a batch right now, as files a supervisor can watch.

TorchServe has no drain: stopping its frontend closes every connection, answered or not. A supervisor that
must stop it gracefully (the SageMaker entrypoint on SIGTERM) sets `ACTIVITY_DIR_VARIABLE` for the workers and
waits until the job queue is empty and no worker holds a marker. Without the variable nothing is written.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Mapping
from pathlib import Path

log = logging.getLogger(__name__)

ACTIVITY_DIR_VARIABLE = "BERT_CLASSIFIER_ACTIVITY_DIR"


@contextlib.contextmanager
def busy(environ: Mapping[str, str] = os.environ) -> Iterator[None]:
    """Holds a marker named after this process in the activity folder while the block runs (if one is set)."""
    folder = environ.get(ACTIVITY_DIR_VARIABLE)
    marker = Path(folder) / str(os.getpid()) if folder else None
    if marker is not None:
        try:
            marker.touch()
        except OSError:
            log.warning("cannot write the activity marker %s: a graceful stop may not wait for this batch", marker)
    try:
        yield
    finally:
        if marker is not None:
            with contextlib.suppress(OSError):
                marker.unlink()


def busy_workers(folder: Path) -> int:
    """How many live workers hold a marker in `folder` (a worker killed mid-batch leaves its marker behind)."""
    try:
        markers = list(folder.iterdir())
    except OSError:
        return 0
    return sum(1 for marker in markers if marker.name.isdigit() and _alive(int(marker.name)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
