"""The SageMaker image's entrypoint (`python -m sagemaker_serving.serve serve`) run on this host as
`make sagemaker-serve-local` and tests/integration/test_sagemaker_serve.py run it: a folder stands in for /opt/ml,
127.0.0.1 on free ports, a private TMPDIR. Then: SIGTERM with requests in flight (drain), and SIGKILL to its Java
frontend (the entrypoint must exit non-zero so the platform restarts the container).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from tools.server import free_port, free_port_range, wait_for

from .limits import ROOT
from .served import parse_prometheus

READY_TIMEOUT = 300.0


@dataclass
class Entrypoint:
    """One running `serve` process, where it listens, and where it writes."""

    process: subprocess.Popen
    url: str
    metrics_url: str
    workdir: Path
    tree: list[psutil.Process] = field(default_factory=list)

    @classmethod
    def start(cls, model_dir: Path, **environment: str) -> Entrypoint:
        workdir = Path(tempfile.mkdtemp(prefix="reliability-serve-"))
        (workdir / "opt-ml").mkdir()
        (workdir / "opt-ml" / "model").symlink_to(model_dir.resolve())
        (workdir / "tmp").mkdir()
        port, internal = free_port(), free_port_range(4)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "handlers")]),
            "TOKENIZERS_PARALLELISM": "false",
            "SM_OPT_ML": str(workdir / "opt-ml"),
            "SM_BIND_HOST": "127.0.0.1",
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_SAFE_PORT_RANGE": f"{internal}-{internal + 3}",
            "TMPDIR": str(workdir / "tmp"),
            **environment,
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "sagemaker_serving.serve", "serve"],
            cwd=workdir,
            env=env,
            stdout=(workdir / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        serve = cls(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal + 1}", workdir)
        try:
            wait_for(serve.classifies, READY_TIMEOUT, "serve to answer /invocations")
        except BaseException:
            serve.kill()
            raise
        serve.tree = serve.descendants()
        return serve

    @property
    def invocations(self) -> str:
        return f"{self.url}/invocations"

    def log(self) -> str:
        return (self.workdir / "serve.log").read_text(errors="replace")

    def classifies(self) -> bool:
        """/ping says Healthy while the worker loads: a prediction is the real readiness test."""
        if self.process.poll() is not None:
            raise RuntimeError(f"serve exited with {self.process.returncode}:\n{self.log()[-4000:]}")
        try:
            answer = requests.post(self.invocations, json={"text": "warm up"}, timeout=30)
            return answer.status_code == 200
        except requests.RequestException:
            return False

    def accepted(self) -> float:
        """Requests TorchServe's frontend has parsed and queued (`ts_inference_requests_total`)."""
        try:
            return parse_prometheus(requests.get(f"{self.metrics_url}/metrics", timeout=5).text).get(
                "ts_inference_requests_total", 0.0
            )
        except requests.RequestException:
            return 0.0

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def frontend(self) -> psutil.Process | None:
        return next((p for p in self.descendants() if _name(p) == "java"), None)

    def signal_and_wait(self, signum: int, deadline: float) -> tuple[int | None, float | None]:
        """Send `signum` to the entrypoint; (exit status, seconds) once it exits, (None, None) past `deadline`."""
        started = time.monotonic()
        self.process.send_signal(signum)
        return self.wait_exit(started, deadline)

    def wait_exit(self, started: float, deadline: float) -> tuple[int | None, float | None]:
        try:
            wait_for(lambda: self.process.poll() is not None, deadline, "serve to exit")
        except TimeoutError:
            return None, None
        return self.process.returncode, time.monotonic() - started

    def kill(self) -> None:
        """Teardown: SIGKILL the entrypoint and everything it started."""
        for process in [*self.descendants(), *self.tree]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""
