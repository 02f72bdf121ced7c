"""training.publish: a finished folder replaces the old output whole, or not at all."""

from __future__ import annotations

import stat

import pytest

from training.publish import publish

pytestmark = pytest.mark.unit


def test_publish_replaces_the_output_keeps_its_hidden_files_and_opens_the_modes(tmp_path):
    output, staging = tmp_path / "artifacts", tmp_path / ".staging"
    output.mkdir()
    (output / ".gitkeep").write_text("")
    (output / "old.bin").write_text("old")
    staging.mkdir(mode=0o700)
    (staging / "model.safetensors").write_text("new")
    (staging / "model.safetensors").chmod(0o600)

    publish(staging, output)

    assert sorted(path.name for path in output.iterdir()) == [".gitkeep", "model.safetensors"]
    assert stat.S_IMODE(output.stat().st_mode) == 0o755
    assert stat.S_IMODE((output / "model.safetensors").stat().st_mode) == 0o644
    assert sorted(path.name for path in tmp_path.iterdir()) == ["artifacts"]


def test_publish_puts_the_previous_output_back_when_the_rename_fails(tmp_path, monkeypatch):
    output, staging = tmp_path / "artifacts", tmp_path / ".staging"
    output.mkdir()
    (output / "config.json").write_text("{}")
    staging.mkdir()
    real_rename = type(staging).rename

    def failing_rename(self, target):
        if self == staging:
            raise OSError("disk full")
        return real_rename(self, target)

    monkeypatch.setattr(type(staging), "rename", failing_rename)
    with pytest.raises(OSError, match="disk full"):
        publish(staging, output)
    assert [path.name for path in output.iterdir()] == ["config.json"]
