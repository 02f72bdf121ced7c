"""Run a private TorchServe instance: free ports, its own TMPDIR, logs and model store.

TorchServe keeps machine-wide state under fixed names in the temp directory (the pid file
`.model_server.pid`, worker sockets `.ts.sock.<port>`), so two instances sharing a TMPDIR collide and
`torchserve --stop` stops whichever owns the pid file. Tests and benchmarks use this class so they never touch
a server a user is running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from torchserve_launcher.commands import console_script, torchserve_command
from torchserve_launcher.environment import torchserve_environment
from torchserve_launcher.processes import kill_group
from torchserve_launcher.properties import override_properties

ROOT = Path(__file__).resolve().parent.parent
ADDRESS_KEYS = ("inference_address", "management_address", "metrics_address")
EVERY_BATCH_LOGGED = {"BERT_CLASSIFIER_BATCH_LOG": "all"}
"""Workers' environment for tests and `make reliability`: the handler's line for every batch (`batch_log`), their
proof of which requests shared a batch."""
PORT_KEYS = ("grpc_inference_port", "grpc_management_port")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def free_port_range(size: int) -> int:
    """The first of `size` consecutive free loopback ports (e.g. for `SAGEMAKER_SAFE_PORT_RANGE`)."""
    for _ in range(50):
        first = free_port()
        if first + size > 65535:
            continue
        probes = []
        try:
            for port in range(first, first + size):
                probe = socket.socket()
                probes.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in probes:
                probe.close()
    raise RuntimeError("no range of free ports found")


@dataclass
class LocalTorchServe:
    """One TorchServe started from the project's `config.properties` with only ports and paths changed."""

    model_store: Path
    config_file: Path = ROOT / "config.properties"
    log_config: Path | None = ROOT / "log4j2.xml"
    """The log4j2 configuration; None for TorchServe's own."""
    extra_config: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="torchserve-")))
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def inference_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['inference_address']}"

    @property
    def management_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['management_address']}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['metrics_address']}"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def start(self, models: str | None = None) -> LocalTorchServe:
        """Start in the foreground of a child process (own session, so teardown can kill its group)."""
        self.ports = {key: free_port() for key in (*ADDRESS_KEYS, *PORT_KEYS)}
        command = torchserve_command(
            model_store=self.model_store, ts_config=self._write_config(), log_config=self.log_config, models=models
        )
        self.process = subprocess.Popen(
            command,
            cwd=self.workdir,
            env=self._environment(),
            stdout=(self.workdir / "stdout.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """`torchserve --stop` for this instance, then make sure the whole process group is gone."""
        if self.process is None:
            return
        subprocess.run(
            [console_script("torchserve"), "--stop"],
            env=self._environment(),
            cwd=self.workdir,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(self.process.pid)
            self.process.wait(timeout=timeout)
        kill_group(self.process.pid)
        self.process = None

    def model_log(self) -> str:
        path = self.log_dir / "model_log.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.rglob("*.log")))

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _write_config(self) -> Path:
        settings = {key: f"http://127.0.0.1:{self.ports[key]}" for key in ADDRESS_KEYS}
        settings |= {key: str(self.ports[key]) for key in PORT_KEYS}
        settings["initial_worker_port"] = str(free_port())
        settings["metrics_config"] = str(ROOT / "metrics.yaml")  # relative in the shipped file
        path = self.workdir / "config.properties"
        path.write_text(override_properties(self.config_file.read_text(), settings | self.extra_config))
        return path

    def _environment(self) -> dict[str, str]:
        tmp = self.workdir / "tmp"
        tmp.mkdir(exist_ok=True)
        return torchserve_environment(os.environ, tmp, self.log_dir) | self.env


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Poll `predicate` until it returns a truthy value or `timeout` passes (then raise TimeoutError)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)  # polling interval; the deadline bounds the wait
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
