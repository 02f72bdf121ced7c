"""Running `torchserve --foreground` as a child and stopping it gracefully on SIGTERM/SIGINT (`TorchServeProcess`)."""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections.abc import Callable, Mapping

from torchserve_launcher.processes import kill_group, terminate_frontend

log = logging.getLogger(__name__)

# SageMaker kills a container 30 s after SIGTERM. Accepted requests get up to DRAIN_SECONDS to be answered, then
# TorchServe gets the rest of STOP_GRACE_SECONDS to stop (a few seconds), and its process group is killed.
DRAIN_SECONDS = 20
STOP_GRACE_SECONDS = 27
POLL_SECONDS = 0.2

Drain = Callable[[float, Callable[[], bool]], bool]
"""Waits until the server has answered what it accepted, until the monotonic deadline, or while the second
argument says the server is running; True if it drained."""


class TorchServeProcess:
    """Runs `torchserve --foreground` in its own process group and stops it on SIGTERM or SIGINT.

    On the first signal it drains (`drain`, up to `drain_seconds`), then sends the stop signal to TorchServe's
    Java frontend, which stops its workers and exits; the `torchserve` wrapper then returns. (The wrapper must not
    get the signal: it would die at once and orphan Java and the workers.) If TorchServe has not exited
    `grace_seconds` after the first signal, or on a second signal, its process group is killed. A requested stop
    exits 0; TorchServe exiting on its own (its frontend died) exits non-zero, so the platform restarts us.
    """

    def __init__(
        self, drain: Drain | None = None, drain_seconds: float = DRAIN_SECONDS, grace_seconds: int = STOP_GRACE_SECONDS
    ) -> None:
        self.drain = drain
        self.drain_seconds = drain_seconds
        self.grace_seconds = grace_seconds
        self.process: subprocess.Popen | None = None
        self.stopping = False
        self.stop_sent = False

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_grace_expired)

    def run(self, command: list[str], env: Mapping[str, str]) -> int:
        """Start TorchServe and wait for it; the exit status for this process."""
        log.info("starting: %s", " ".join(command))
        self.process = subprocess.Popen(command, env=dict(env), start_new_session=True)
        code = self._wait()
        signal.alarm(0)
        kill_group(self.process.pid)  # workers of a frontend that died without stopping them
        if self.stopping:
            log.info("TorchServe stopped (exit code %d)", code)
            return 0
        log.error("TorchServe exited on its own with code %d", code)
        return 128 - code if code < 0 else code or 1

    def _wait(self) -> int:
        """Wait for TorchServe; once a stop is asked for, drain and then stop it (here, not in the signal
        handler, so the drain's polling never runs inside a handler)."""
        while True:
            try:
                return self.process.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                if self.stopping and not self.stop_sent:
                    self._drain_then_stop()

    def _drain_then_stop(self) -> None:
        if self.drain is not None:
            started = time.monotonic()
            drained = self.drain(started + self.drain_seconds, lambda: self.process.poll() is None)
            log.info("drain %s after %.1f s", "done" if drained else "timed out", time.monotonic() - started)
        terminate_frontend(self.process.pid)
        self.stop_sent = True

    def _on_stop_signal(self, signum: int, _frame) -> None:
        if self.process is None:  # still preparing the model: nothing to stop yet
            log.info("%s before TorchServe started: exiting", signal.Signals(signum).name)
            raise SystemExit(0)
        if self.stopping:
            self._on_grace_expired(signum, _frame)
            return
        self.stopping = True
        log.info(
            "%s: answering accepted requests, then stopping TorchServe (killed after %d s)",
            signal.Signals(signum).name,
            self.grace_seconds,
        )
        signal.alarm(self.grace_seconds)

    def _on_grace_expired(self, _signum: int, _frame) -> None:
        log.warning("killing TorchServe's process group")
        if self.process is not None:
            kill_group(self.process.pid)
