"""One image run with `buildah run` the way a container engine runs it: its ENTRYPOINT + CMD, its user, its
environment and working directory, read-only bind mounts, the host's network.

chroot isolation has no PID namespace: the container's processes are ordinary processes of this host, so the
check can look at their users, signal the image's init process (tini) as `docker stop` does, and make sure none
is left behind.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

from tools.buildah import ISOLATION, Buildah


class RunningImage:
    """A working container of `tag` (removed on exit) and, once `start`ed, its entrypoint process."""

    def __init__(self, buildah: Buildah, tag: str, workdir: Path) -> None:
        self.buildah = buildah
        self.tag = tag
        self.config = buildah.image_config(tag) or {}
        self.log_path = workdir / "container.log"
        self.container = ""
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.processes: list[psutil.Process] = []

    def __enter__(self) -> RunningImage:
        self.container = self.buildah.from_image(self.tag)
        return self

    def __exit__(self, *_exc) -> None:
        for process in [*self._descendants(), *self.processes]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.buildah.remove_container(self.container)

    # ---- running ------------------------------------------------------------------------------------------------

    def run_arguments(self, command: list[str], mounts: Mapping[Path, str], env: Mapping[str, str]) -> list[str]:
        arguments = ["run", "--isolation", ISOLATION, "--network", "host"]
        for host, inside in mounts.items():
            arguments += ["--volume", f"{host}:{inside}:ro"]
        for name, value in env.items():
            arguments += ["--env", f"{name}={value}"]
        return [*arguments, self.container, "--", *command]

    def start(self, mounts: Mapping[Path, str], env: Mapping[str, str]) -> None:
        """The image's ENTRYPOINT + CMD, in the background, output to `log_path`."""
        command = [*(self.config.get("Entrypoint") or []), *(self.config.get("Cmd") or [])]
        arguments = self.run_arguments(command, mounts, env)
        print("image-check: " + " ".join(self.buildah.command(*arguments)), flush=True)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.buildah.command(*arguments), stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT
        )

    def run_command(self, command: list[str], user: str | None = None) -> subprocess.CompletedProcess:
        """A one-off command in the container (as the image's user unless `user` is given)."""
        arguments = self.run_arguments(command, {}, {})
        if user is not None:
            arguments[1:1] = ["--user", user]
        return subprocess.run(self.buildah.command(*arguments), capture_output=True, text=True, check=False)

    def exited(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def log_tail(self, size: int = 6000) -> str:
        return self.log_path.read_text(errors="replace")[-size:] if self.log_path.exists() else ""

    def init_process(self) -> psutil.Process:
        """The entrypoint's first program (tini), the process `docker stop` signals."""
        program = (self.config.get("Entrypoint") or [""])[0]
        for process in self._descendants():
            with contextlib.suppress(psutil.NoSuchProcess):
                if process.cmdline()[:1] == [program]:
                    return process
        raise RuntimeError(f"no {program} process under buildah run")

    def terminate(self) -> None:
        """SIGTERM to the init process; remembers every process so `leftover_processes` can look for them."""
        init = self.init_process()
        self.processes = [init, *init.children(recursive=True)]
        init.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int | None:
        """`buildah run`'s exit status (the entrypoint's), or None if it is still running after `timeout`."""
        assert self.process is not None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def leftover_processes(self) -> list[psutil.Process]:
        return [process for process in self.processes if _alive(process)]

    def _descendants(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    # ---- facts about the user ----------------------------------------------------------------------------------

    @property
    def uid(self) -> int | None:
        """The image's USER as a uid; None when it is a name (not checkable by `runAsNonRoot` policies either)."""
        user = str(self.config.get("User") or "0").split(":")[0]
        return int(user) if user.isdigit() else None

    def owned_files(self) -> list[str]:
        """Files in the image owned by its user (run before `start`: afterwards /tmp holds what it wrote)."""
        result = self.run_command(["find", "/", "-xdev", "-uid", str(self.uid)], user="0:0")
        if result.returncode != 0:
            raise RuntimeError(f"find failed in the container: {result.stderr[-2000:]}")
        return result.stdout.split()

    def process_uids(self) -> tuple[int, list[int]]:
        """(how many processes, their distinct real uids): tini, serve, Java and the workers."""
        init = self.init_process()
        tree = [init, *init.children(recursive=True)]
        return len(tree), sorted({process.uids().real for process in tree})


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
