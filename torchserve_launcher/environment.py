"""The environment TorchServe runs in: its temp files and logs in a folder of the caller's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def torchserve_environment(inherited: Mapping[str, str], tmp_dir: Path, log_dir: Path) -> dict[str, str]:
    """`inherited` with TorchServe's pid file, worker sockets and logs under `tmp_dir` and `log_dir`.

    TorchServe keeps machine-wide state under fixed names in the temp folder (`.model_server.pid`, the worker
    sockets `.ts.sock.<port>`), so two instances sharing one collide. PYTHONPATH is dropped: TorchServe puts an
    inherited PYTHONPATH *before* the model folder on its workers' path, so another copy of `bert_classifier`
    would shadow the one inside the archive.
    """
    env = {key: value for key, value in inherited.items() if key != "PYTHONPATH"}
    # TMPDIR: the `torchserve` pid file; TEMP: Java's temp dir (worker sockets, archive extraction).
    return env | {
        "TMPDIR": str(tmp_dir),
        "TEMP": str(tmp_dir),
        "LOG_LOCATION": str(log_dir),
        "METRICS_LOCATION": str(log_dir),
    }
