"""`make image` without building: base names, the stand-in decision, torch's source, buildah's arguments, the
stand-in recipes, and the probe `make image-lambda-test` runs inside the Lambda image."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools import image
from tools.buildah import docker_reference
from tools.image import (
    ImageError,
    TorchSource,
    base_action,
    base_image,
    bud_arguments,
    build_pip_config,
    pip_setting,
    torch_source,
)
from tools.image_base import PYTHON_SLIM, RECIPE_LABEL, STAND_IN_LABEL, STAND_INS, config_arguments, mmdebstrap_command
from tools.image_check import LAMBDA_PROBE

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
WHEEL_URL = "file:///opt/wheels/torch-2.13.0%2Bcpu-cp311-cp311-manylinux_2_28_x86_64.whl"


@pytest.mark.parametrize(
    ("name", "reference"),
    [
        ("python:3.11.13-slim-bookworm", "docker.io/library/python:3.11.13-slim-bookworm"),
        ("bitnami/python:3.11", "docker.io/bitnami/python:3.11"),
        ("public.ecr.aws/lambda/python:3.12", "public.ecr.aws/lambda/python:3.12"),
        ("registry:5000/team/app:1", "registry:5000/team/app:1"),
        ("localhost/bert-classifier:cpu", "localhost/bert-classifier:cpu"),
    ],
)
def test_short_names_mean_docker_hub_as_for_docker(name, reference):
    assert docker_reference(name) == reference


@pytest.mark.parametrize("dockerfile", sorted((ROOT / "docker").glob("*Dockerfile*")), ids=lambda path: path.name)
def test_every_dockerfile_base_has_a_stand_in_recipe(dockerfile):
    assert base_image(dockerfile.read_text()) in STAND_INS


def test_a_base_named_by_a_build_argument_is_refused():
    with pytest.raises(ImageError, match="one literal FROM"):
        base_image("ARG BASE=python:3.11\nFROM ${BASE}\n")


def test_a_missing_base_is_pulled_first():
    assert base_action(None, PYTHON_SLIM.digest) == "pull"


def test_a_current_stand_in_is_reused_and_an_outdated_one_rebuilt():
    labels = {STAND_IN_LABEL: "docker.io/library/python:3.11.13-slim-bookworm", RECIPE_LABEL: PYTHON_SLIM.digest}
    assert base_action({"Labels": labels}, PYTHON_SLIM.digest) == "use"
    assert base_action({"Labels": labels | {RECIPE_LABEL: "0" * 16}}, PYTHON_SLIM.digest) == "rebuild"


def test_a_real_base_in_the_store_is_used_as_it_is():
    assert base_action({"Labels": {"maintainer": "someone"}}, PYTHON_SLIM.digest) == "use"
    assert base_action({}, None) == "use"


def test_the_recipe_digest_follows_the_recipe():
    changed = dataclasses.replace(PYTHON_SLIM, packages=(*PYTHON_SLIM.packages, "curl"))
    assert changed.digest != PYTHON_SLIM.digest
    assert dataclasses.replace(PYTHON_SLIM).digest == PYTHON_SLIM.digest


def test_torch_comes_from_this_machines_wheel_file_mounted_at_its_own_path():
    source = torch_source(None, WHEEL_URL)
    assert source.pip_args == "/opt/wheels/torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert source.mounts == ("/opt/wheels",)


def test_explicit_torch_pip_args_win_and_a_remote_wheel_leaves_the_dockerfile_default():
    assert torch_source("--index-url https://example.org/whl", WHEEL_URL) == TorchSource(
        "--index-url https://example.org/whl", (), "TORCH_PIP_ARGS as given"
    )
    assert torch_source(None, "https://files.example.org/torch-2.13.0-cp311.whl").pip_args == ""
    assert torch_source(None, None).pip_args == ""


def test_pip_settings_from_the_environment_win_over_files():
    listing = ":env:.cert='/env/ca.crt'\nglobal.cert='/etc/ssl/certs/ca-certificates.crt'\nglobal.find-links='/opt'\n"
    assert pip_setting(listing, "cert") == "/env/ca.crt"
    assert pip_setting("global.cert='/etc/ca.crt'\n", "cert") == "/etc/ca.crt"
    assert pip_setting("global.find-links='/opt/wheels'\n", "cert") is None


def test_the_build_trusts_the_hosts_ca_through_a_pip_config_mounted_read_only(tmp_path):
    ca = tmp_path / "host-ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    folder = tmp_path / "pip"
    folder.mkdir()
    assert build_pip_config(folder, str(ca)) == f"{folder}:/etc/xdg/pip:ro"
    assert (folder / "pip.conf").read_text() == "[global]\ncert = /etc/xdg/pip/ca.crt\n"
    assert (folder / "ca.crt").read_text() == ca.read_text()
    assert build_pip_config(folder, None) is None


def test_bud_runs_daemonless_on_the_host_network_and_never_pulls():
    torch = TorchSource("/opt/wheels/torch.whl", ("/opt/wheels",))
    arguments = bud_arguments(
        Path("docker/Dockerfile"), "bert:cpu", Path("/repo"), torch, ["X=1"], ["/tmp/pip:/etc/xdg/pip:ro"]
    )
    assert arguments[:5] == ["bud", "--isolation", "chroot", "--network", "host"]
    assert "--pull=never" in arguments
    pairs = list(itertools.pairwise(arguments))
    assert ("--build-arg", "TORCH_PIP_ARGS=/opt/wheels/torch.whl") in pairs
    assert ("--build-arg", "X=1") in pairs
    assert ("--volume", "/opt/wheels:/opt/wheels:ro") in pairs
    assert ("--volume", "/tmp/pip:/etc/xdg/pip:ro") in pairs
    assert arguments[-1] == "/repo"


def test_without_torch_pip_args_the_dockerfile_default_applies():
    arguments = bud_arguments(Path("Dockerfile"), "t", Path("."), TorchSource(""))
    assert not any(argument.startswith("TORCH_PIP_ARGS") for argument in arguments)


def test_the_python_stand_in_puts_python_and_pip_where_the_official_image_has_them():
    command = mmdebstrap_command(PYTHON_SLIM, "/target")
    assert command[:2] == ["mmdebstrap", "--variant=minbase"]
    assert set(command[2].removeprefix("--include=").split(",")) >= {"python3.11", "python3-venv"}
    assert '--customize-hook=chroot "$1" python3.11 -m venv /usr/local' in command
    suites = [source.split()[2] for source in command[-3:]]
    assert suites == ["bookworm", "bookworm-updates", "bookworm-security"]
    assert command[-4:-3] == ["/target"]


def test_a_stand_in_is_labelled_as_one():
    arguments = config_arguments(PYTHON_SLIM, "docker.io/library/python:3.11.13-slim-bookworm")
    assert f"--label={STAND_IN_LABEL}=docker.io/library/python:3.11.13-slim-bookworm" in arguments
    assert f"--label={RECIPE_LABEL}={PYTHON_SLIM.digest}" in arguments
    assert '--cmd=["python3"]' in arguments


def test_missing_tools_without_root_say_how_to_install_them(monkeypatch):
    monkeypatch.setattr(image.shutil, "which", lambda name: None)
    monkeypatch.setattr(image.os, "geteuid", lambda: 1000)
    with pytest.raises(ImageError, match="apt-get install buildah"):
        image.ensure_tools(["buildah"])


def test_the_lambda_probe_calls_the_handler_with_an_api_gateway_event(tiny_bert_dir):
    """The probe `image_check lambda` runs inside the image, run here against the repository's handler."""
    env = {**os.environ, "LAMBDA_TASK_ROOT": str(ROOT), "MODEL_DIR": str(tiny_bert_dir)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "handlers"), str(ROOT)])
    texts = ["Shares rose.", "The striker scored."]
    command = [sys.executable, "-c", LAMBDA_PROBE, "serverless.lambda_function.lambda_handler", json.dumps(texts)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {"statusCode": 200, "results": 2}
