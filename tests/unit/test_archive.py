"""`tools.archive`: the archiver command packs the engines folder when there is one."""

from __future__ import annotations

import pytest

from tools.archive import HANDLERS, archiver_command, parse_args

pytestmark = pytest.mark.unit


def extra_files(**kwargs) -> list[str]:
    command = archiver_command(model_name="m", version="1", config_file="c.yaml", export_path="out", **kwargs)
    return command[command.index("--extra-files") + 1].split(",")


def test_the_engines_folder_is_a_third_extra_files_folder(tmp_path):
    assert extra_files(model_dir=tmp_path / "model") == [str(HANDLERS), str(tmp_path / "model")]
    assert extra_files(model_dir=tmp_path / "model", engines_dir=tmp_path / "engines") == [
        str(HANDLERS), str(tmp_path / "model"), str(tmp_path / "engines")
    ]  # fmt: skip


def test_make_archive_exports_onnx_and_measures_the_gate_by_default():
    args = parse_args([])
    assert (args.onnx, args.gate, args.held_out) == (True, "measure", None)
    assert parse_args(["--no-onnx", "--gate", "accept"]).onnx is False
