"""torchserve_launcher: the one place TorchServe's command lines, config.properties and environment are made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tools.server import wait_for
from torchserve_launcher.commands import HANDLERS, archiver_command, console_script, torchserve_command
from torchserve_launcher.environment import torchserve_environment
from torchserve_launcher.processes import kill_group
from torchserve_launcher.properties import override_properties, read_properties, render_properties

pytestmark = pytest.mark.unit


def test_console_scripts_are_the_ones_next_to_this_interpreter():
    assert console_script("torchserve") == str(Path(sys.executable).with_name("torchserve"))
    assert Path(console_script("torchserve")).is_file()


def test_torchserve_command_in_the_foreground_with_optional_parts():
    full = torchserve_command(model_store="s", ts_config="c", log_config="l", models="m=m.mar")
    assert full[1:] == ["--start", "--ncs", "--foreground", "--model-store", "s", "--ts-config", "c",
                        "--log-config", "l", "--models", "m=m.mar"]  # fmt: skip
    bare = torchserve_command(model_store="s", ts_config="c", foreground=False)
    assert bare[1:] == ["--start", "--ncs", "--model-store", "s", "--ts-config", "c"]


def test_the_archiver_packs_our_handler_the_model_and_the_engines(tmp_path):
    command = archiver_command(model_dir=tmp_path / "m", model_name="n", version="2", config_file="c.yaml",
                               export_path="out", engines_dir=tmp_path / "e")  # fmt: skip
    extra = command[command.index("--extra-files") + 1].split(",")
    assert extra == [str(HANDLERS), str(tmp_path / "m"), str(tmp_path / "e")]
    assert command[command.index("--handler") + 1] == str(HANDLERS / "torchserve_handler.py")
    assert "--archive-format" not in command
    folder = archiver_command(model_dir="m", model_name="n", version="2", config_file="c", export_path="o",
                              archive_format="no-archive")  # fmt: skip
    assert folder[-2:] == ["--archive-format", "no-archive"]


def test_properties_round_trip_and_overrides_keep_other_lines(tmp_path):
    path = tmp_path / "config.properties"
    path.write_text(render_properties({"a": 1, "allowed_urls": "(?!)"}, "# header\n"))
    assert read_properties(path) == {"a": "1", "allowed_urls": "(?!)"}
    text = override_properties(path.read_text(), {"a": "C:\\new\\path", "b": "2"})
    assert text.startswith("# header\n")
    assert read_properties_of(text, tmp_path) == {"a": "C:\\new\\path", "allowed_urls": "(?!)", "b": "2"}


def read_properties_of(text: str, folder: Path) -> dict[str, str]:
    path = folder / "other.properties"
    path.write_text(text)
    return read_properties(path)


def test_the_environment_moves_temp_files_and_logs_and_drops_pythonpath(tmp_path):
    env = torchserve_environment({"PATH": "/bin", "PYTHONPATH": "/shadow"}, tmp_path / "tmp", tmp_path / "logs")
    assert env["PATH"] == "/bin"
    assert "PYTHONPATH" not in env
    assert env["TMPDIR"] == env["TEMP"] == str(tmp_path / "tmp")
    assert env["LOG_LOCATION"] == env["METRICS_LOCATION"] == str(tmp_path / "logs")


def test_kill_group_kills_every_process_of_the_session_and_tolerates_a_gone_one():
    parent = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
         "'import time; time.sleep(60)']); time.sleep(60)"],
        start_new_session=True,
    )  # fmt: skip
    [child] = wait_for(lambda: psutil.Process(parent.pid).children(), 30, "the child to start")
    kill_group(parent.pid)
    parent.wait(timeout=10)
    assert wait_for(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, 10, "the child to go")
    kill_group(parent.pid)  # already gone: no error
