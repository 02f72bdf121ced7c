"""Keep each CPU worker to cores of its own while the host has cores no other worker holds.

Left to the OS scheduler, two single-threaded workers on a 2-core host at times share one core while the other
runs the frontend and the clients; kept to a core each they served about 8% more headlines at concurrency 16
(docs/performance.md). A worker claims as many cores as it runs threads, among those no live worker of this user
claimed (a claims file in the private temp folder, under a lock), and keeps all its threads to them. When fewer
are free (more workers than cores: other models, an explanations pool) it stays unpinned, as before. A claim
lapses with its process: a restarted worker takes the core back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from .engines.shared import private_folder, write_json

CLAIMS = "cores.json"
"""{process: [cores]} in the private folder; a process is `<pid>:<start time>`, so a reused pid is not alive."""


def pin_to_free_cores(count: int, folder: Path | None = None, set_affinity: Callable | None = None) -> list[int]:
    """Claim `count` cores of this process's allowed set that no live process claimed and keep every thread of
    this process to them; the cores, or [] (nothing changed) when fewer are free, when `count` covers every
    allowed core anyway, or when the OS has no affinity or no private folder to share claims in."""
    try:
        import fcntl

        allowed = sorted(os.sched_getaffinity(0))
    except (ImportError, AttributeError):  # Windows, macOS
        return []
    folder = folder or private_folder()
    if folder is None or not 0 < count < len(allowed):
        return []
    with (folder / "cores.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        claims = {owner: cores for owner, cores in _read(folder / CLAIMS).items() if _alive(owner)}
        mine = free_cores(allowed, claims, count)
        if mine:
            claims[_process_key(os.getpid())] = mine
        write_json(folder / CLAIMS, claims, "this worker's cores")
    if mine:
        _keep_threads_to(mine, set_affinity or os.sched_setaffinity)
    return mine


def free_cores(allowed: Sequence[int], claims: dict[str, list[int]], count: int) -> list[int]:
    """The first `count` of `allowed` in no claim, or [] when fewer are free."""
    taken = {core for cores in claims.values() for core in cores}
    free = [core for core in allowed if core not in taken]
    return free[:count] if len(free) >= count else []


def _keep_threads_to(cores: list[int], set_affinity: Callable) -> None:
    """Every thread this process has now (tokenizer and timer threads started before this included); threads
    started later inherit it."""
    for thread in os.listdir("/proc/self/task"):
        try:
            set_affinity(int(thread), cores)
        except OSError:  # ended meanwhile
            continue


def _process_key(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            start_time = stat.read().rsplit(")", 1)[1].split()[19]  # field 22, after the command in parentheses
    except (OSError, IndexError):
        return None
    return f"{pid}:{start_time}"


def _alive(owner: str) -> bool:
    pid = owner.split(":", 1)[0]
    return pid.isdigit() and _process_key(int(pid)) == owner


def _read(path: Path) -> dict[str, list[int]]:
    try:
        claims = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    try:
        return {str(owner): [int(core) for core in cores] for owner, cores in claims.items()}
    except (AttributeError, TypeError, ValueError):  # not what this module writes: start afresh
        return {}
