"""Activity markers: a worker is seen busy exactly while it handles a batch, and only when asked to write them."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bert_classifier.activity import ACTIVITY_DIR_VARIABLE, busy, busy_workers

pytestmark = pytest.mark.unit


def test_a_marker_exists_only_inside_the_block(tmp_path):
    environ = {ACTIVITY_DIR_VARIABLE: str(tmp_path)}
    with busy(environ):
        assert busy_workers(tmp_path) == 1
        assert (tmp_path / str(os.getpid())).exists()
    assert busy_workers(tmp_path) == 0


def test_the_marker_is_removed_when_the_block_raises(tmp_path):
    with pytest.raises(RuntimeError), busy({ACTIVITY_DIR_VARIABLE: str(tmp_path)}):
        raise RuntimeError
    assert busy_workers(tmp_path) == 0


def test_nothing_is_written_without_the_variable(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with busy({}):
        assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_never_fails_the_batch(tmp_path):
    with busy({ACTIVITY_DIR_VARIABLE: str(tmp_path / "missing")}):
        pass


def test_the_marker_of_a_dead_worker_is_not_counted(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / dead.stdout.strip()).touch()  # a worker killed mid-batch leaves its marker
    (tmp_path / str(os.getpid())).touch()
    assert busy_workers(tmp_path) == 1
