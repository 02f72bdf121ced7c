"""Stopping what `torchserve` started: its Java frontend gently, its whole process group for good."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def terminate_frontend(wrapper_pid: int) -> None:
    """SIGTERM the `torchserve` wrapper's children (Java), or the wrapper itself if Java has not started yet.
    The wrapper must not get the signal while Java runs: it would die at once and orphan Java and the workers."""
    try:
        wrapper = psutil.Process(wrapper_pid)
        targets = wrapper.children() or [wrapper]
    except psutil.NoSuchProcess:
        return
    for target in targets:
        with contextlib.suppress(psutil.NoSuchProcess):
            target.terminate()


def kill_group(group: int) -> None:
    """SIGKILL every process left in the group (started with `start_new_session=True`); a gone group is fine."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)
