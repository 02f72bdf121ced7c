"""`sagemaker_serving.process.TorchServeProcess` with a stand-in for TorchServe: a wrapper process starting a
"frontend" that ignores SIGTERM, to check the escalation TorchServe itself never needs (the real server is
stopped in tests/integration/test_sagemaker_serve.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tools.server import wait_for

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
STOP_DEADLINE = 30


STUBBORN_FRONTEND = """
import pathlib, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).touch()
time.sleep(300)  # stands in for a frontend that hangs on shutdown
"""
FAKE_WRAPPER = "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]])"
HARNESS = f"""
import sys
from sagemaker_serving.process import TorchServeProcess
wrapper = [sys.executable, "-c", {FAKE_WRAPPER!r}, sys.argv[1], sys.argv[2]]
server = TorchServeProcess(grace_seconds=2)
server.install_signal_handlers()
sys.exit(server.run(wrapper, {{"PATH": ""}}))
"""


def test_a_frontend_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path):
    """The process tree of `torchserve` (wrapper -> frontend) with a frontend that never stops by itself."""
    ready = tmp_path / "frontend-ready"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "handlers")])}
    harness = subprocess.Popen(
        [sys.executable, "-c", HARNESS, STUBBORN_FRONTEND, str(ready)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    tree: list[psutil.Process] = []
    try:
        wait_for(ready.exists, 60, "the fake frontend to ignore SIGTERM")
        tree = psutil.Process(harness.pid).children(recursive=True)
        started = time.monotonic()
        harness.send_signal(signal.SIGTERM)
        _, log = harness.communicate(timeout=STOP_DEADLINE)
        assert harness.returncode == 0, log
        assert 2 <= time.monotonic() - started < 10
        _, alive = psutil.wait_procs(tree, timeout=5)
        assert alive == []
        assert "killing TorchServe's process group" in log
    finally:
        for process in [*tree, psutil.Process(harness.pid)] if harness.poll() is None else tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
