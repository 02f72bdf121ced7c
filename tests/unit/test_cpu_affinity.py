"""Keeping each worker to cores of its own: claims shared through a file, lapsing with their process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bert_classifier.cpu_affinity import CLAIMS, _process_key, free_cores, pin_to_free_cores

ALLOWED = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
needs_two_cores = pytest.mark.skipif(len(ALLOWED) < 2, reason="pinning needs at least two usable cores")


class Recorder:
    """Stands in for `os.sched_setaffinity`, so the test process itself is never pinned."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, list[int]]] = []

    def __call__(self, thread: int, cores: list[int]) -> None:
        self.calls.append((thread, cores))


def test_free_cores_skip_claimed_ones_and_give_none_when_too_few_are_free():
    claims = {"1:5": [0], "2:7": [2]}
    assert free_cores([0, 1, 2, 3], claims, 1) == [1]
    assert free_cores([0, 1, 2, 3], claims, 2) == [1, 3]
    assert free_cores([0, 1, 2, 3], claims, 3) == []


@needs_two_cores
def test_a_worker_takes_a_core_whose_claim_lapsed_and_records_its_own(tmp_path):
    parent = _process_key(os.getppid())  # alive
    (tmp_path / CLAIMS).write_text(json.dumps({parent: [ALLOWED[0]], "999999999:1": ALLOWED[1:]}))
    recorder = Recorder()

    cores = pin_to_free_cores(1, tmp_path, recorder)

    assert cores == [ALLOWED[1]]
    assert {thread for thread, _ in recorder.calls} == {int(t) for t in os.listdir("/proc/self/task")}
    assert all(pinned == cores for _, pinned in recorder.calls)
    assert json.loads((tmp_path / CLAIMS).read_text()) == {parent: [ALLOWED[0]], _process_key(os.getpid()): cores}


@needs_two_cores
def test_with_every_core_held_by_a_live_worker_nothing_is_pinned(tmp_path):
    (tmp_path / CLAIMS).write_text(json.dumps({_process_key(os.getppid()): ALLOWED}))
    recorder = Recorder()
    assert pin_to_free_cores(1, tmp_path, recorder) == []
    assert recorder.calls == []


@needs_two_cores
def test_a_worker_that_uses_every_core_anyway_is_not_pinned_and_claims_nothing(tmp_path):
    recorder = Recorder()
    assert pin_to_free_cores(len(ALLOWED), tmp_path, recorder) == []
    assert recorder.calls == []
    assert not (tmp_path / CLAIMS).exists()


def test_an_unreadable_claims_file_is_started_afresh(tmp_path):
    (tmp_path / CLAIMS).write_text('{"1:2": "zero"}')
    recorder = Recorder()
    assert pin_to_free_cores(1, tmp_path, recorder) == (ALLOWED[:1] if len(ALLOWED) > 1 else [])


@needs_two_cores
def test_two_processes_in_turn_keep_to_different_single_cores(tmp_path):
    """Real processes, really pinned: each child reports the cores every one of its threads may run on."""
    script = (
        "import os, sys, threading, time; sys.path.insert(0, sys.argv[2])\n"
        "from pathlib import Path\n"
        "threading.Thread(target=time.sleep, args=(5,), daemon=True).start()  # a thread started before pinning\n"
        "from bert_classifier.cpu_affinity import pin_to_free_cores\n"
        "pin_to_free_cores(1, Path(sys.argv[1]))\n"
        "import json; print(json.dumps(sorted({tuple(sorted(os.sched_getaffinity(int(t))))\n"
        "                                  for t in os.listdir('/proc/self/task')})))\n"
        "sys.stdout.flush(); sys.stdin.read()\n"  # stays alive, holding its claim, until the test is done
    )
    handlers = str(Path(__file__).resolve().parents[2] / "handlers")
    children = []
    try:
        for _ in range(2):
            child = subprocess.Popen([sys.executable, "-c", script, str(tmp_path), handlers], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
            children.append((child, child.stdout.readline().strip()))
    finally:
        for child, _ in children:
            child.communicate("", timeout=30)
    first, second = (json.loads(line) for _, line in children)
    assert len(first) == len(second) == 1  # every thread of each process on the same set
    assert len(first[0]) == len(second[0]) == 1
    assert first[0] != second[0]
