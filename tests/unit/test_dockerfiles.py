"""The Dockerfiles, checked without a Docker engine: hadolint, and what each image needs from this repository."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).with_name("hadolint")
DOCKERFILES = sorted((ROOT / "docker").glob("*Dockerfile*"))
SAGEMAKER_IMAGE = ROOT / "docker" / "Dockerfile"
LAMBDA_IMAGE = ROOT / "docker" / "lambda.Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in dockerfile.read_text().splitlines():
        if line.lstrip().startswith("#") and not current:
            continue
        current += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            if current.strip():
                logical.append(current.strip())
            current = ""
    return [tuple(re.split(r"\s+", line, maxsplit=1)) for line in logical]


def arguments(dockerfile: Path, instruction: str) -> list[str]:
    return [args for name, args in instructions(dockerfile) if name.upper() == instruction]


def arg_defaults(dockerfile: Path) -> dict[str, str]:
    return dict(arg.split("=", 1) for arg in arguments(dockerfile, "ARG") if "=" in arg)


def test_both_images_have_a_dockerfile():
    assert set(DOCKERFILES) >= {SAGEMAKER_IMAGE, LAMBDA_IMAGE}


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_hadolint_is_clean(dockerfile):
    result = subprocess.run(
        [str(HADOLINT), "--no-color", str(dockerfile)], capture_output=True, text=True, check=False, timeout=60
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_fail_an_unpinned_dockerfile(tmp_path):
    """Guards the test above against a linter that passes everything."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y openjdk-17-jre-headless\n")
    result = subprocess.run([str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout
    assert "DL3008" in result.stdout


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_every_copied_path_exists_in_the_repository(dockerfile):
    defaults = arg_defaults(dockerfile)
    for copy in arguments(dockerfile, "COPY"):
        *sources, _ = [word for word in copy.split() if not word.startswith("--")]
        for source in sources:
            resolved = re.sub(r"\$\{(\w+)\}", lambda match: defaults[match[1]], source)
            assert (ROOT / resolved).exists(), f"{dockerfile.name}: COPY {source} -> {resolved} is missing"


def test_the_sagemaker_image_mirrors_the_repository_layout_serve_expects():
    """serve finds handlers/, torchserve_launcher/ (the archiver and TorchServe commands; no tools/),
    model-config.yaml and the server settings it shares with `make serve` (config.properties' JVM settings,
    log4j2.xml) next to its own package folder, as in the repository."""
    [workdir] = arguments(SAGEMAKER_IMAGE, "WORKDIR")
    copies = {tuple(copy.split()) for copy in arguments(SAGEMAKER_IMAGE, "COPY")}
    expected = {("handlers/", "handlers/"), ("sagemaker_serving/", "sagemaker_serving/")}
    expected.add(("torchserve_launcher/", "torchserve_launcher/"))
    expected.add(("model-config.yaml", "metrics.yaml", "config.properties", "log4j2.xml", "./"))
    assert expected <= copies
    assert not any(copy[0].startswith("tools") for copy in copies)  # the image needs no tooling
    env = " ".join(arguments(SAGEMAKER_IMAGE, "ENV"))
    assert f"PYTHONPATH={workdir}:{workdir}/handlers" in env
    assert "TOKENIZERS_PARALLELISM=false" in env


def test_the_sagemaker_image_answers_serve_through_an_exec_form_entrypoint():
    [entrypoint] = arguments(SAGEMAKER_IMAGE, "ENTRYPOINT")
    [command] = arguments(SAGEMAKER_IMAGE, "CMD")
    assert json.loads(entrypoint)[-2:] == ["-m", "sagemaker_serving.serve"]
    assert json.loads(command) == ["serve"]
    assert hasattr(importlib.import_module("sagemaker_serving.serve"), "main")


def test_the_sagemaker_image_pins_java_17_and_declares_bind_to_port_support():
    run = " ".join(arguments(SAGEMAKER_IMAGE, "RUN"))
    assert re.search(r"openjdk-17-jre-headless=\S+", run)
    assert "com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true" in " ".join(
        arguments(SAGEMAKER_IMAGE, "LABEL")
    )
    assert arguments(SAGEMAKER_IMAGE, "EXPOSE") == ["8080"]


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_python_packages_come_from_pyproject_pins(dockerfile):
    run = " ".join(arguments(dockerfile, "RUN"))
    assert "pyproject.toml" in run
    assert not re.search(r"pip install (?!\$\{TORCH_PIP_ARGS:-|-r)", run), "every pip install reads a pinned list"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_torch_comes_from_pytorchs_index_unless_torch_pip_args_says_otherwise(dockerfile):
    """`make image` passes TORCH_PIP_ARGS (the local wheel); `docker build` without it uses PyTorch's index."""
    assert "TORCH_PIP_ARGS=" in arguments(dockerfile, "ARG")
    run = " ".join(arguments(dockerfile, "RUN"))
    assert re.search(r"pip install \$\{TORCH_PIP_ARGS:---index-url https://download\.pytorch\.org/whl/\S+\} -r", run)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.name)
def test_no_build_argument_is_shadowed_by_an_environment_variable(dockerfile):
    """An ENV overrides an ARG of the same name: `COPY ${MODEL_DIR}/` once read the image's /var/task/model."""
    args = {arg.split("=", 1)[0] for arg in arguments(dockerfile, "ARG")}
    env = set(re.findall(r"(\w+)=", " ".join(arguments(dockerfile, "ENV"))))
    assert not args & env


def test_the_sagemaker_image_runs_as_a_fixed_non_root_uid_that_it_creates():
    """Numeric, so `runAsNonRoot` policies can check it; created with that uid so it has a name and group."""
    [*_, user] = arguments(SAGEMAKER_IMAGE, "USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit()
    assert int(uid) != 0
    assert gid == uid
    run = " ".join(arguments(SAGEMAKER_IMAGE, "RUN"))
    assert re.search(rf"useradd --uid {uid} --gid {gid} ", run)
    assert re.search(rf"groupadd --gid {gid} ", run)
    assert "--create-home" not in run, "the user owns no file in the image"


def test_the_lambda_image_runs_the_handler_the_tests_exercise():
    [command] = arguments(LAMBDA_IMAGE, "CMD")
    [handler] = json.loads(command)
    module, function = handler.rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), function))
    assert "MODEL_DIR=/var/task/model" in " ".join(arguments(LAMBDA_IMAGE, "ENV"))


def test_the_lambda_image_copies_the_model_readable_and_traversable_for_any_user():
    """Lambda runs the function as a non-root user, and save_pretrained writes model.safetensors 0600."""
    [model_copy] = [copy for copy in arguments(LAMBDA_IMAGE, "COPY") if copy.endswith("/model/")]
    mode = re.search(r"--chmod=(\d+)", model_copy)
    assert mode, "the model COPY must set a mode"
    assert int(mode[1], 8) & 0o005 == 0o005, "others need r (files) and x (directories it creates)"


def test_the_lambda_image_ships_the_model_config_the_handler_reads_next_to_its_package():
    """serverless/lambda_function.py reads `<task root>/model-config.yaml` unless $MODEL_CONFIG is set."""
    copies = [copy.split() for copy in arguments(LAMBDA_IMAGE, "COPY")]
    assert ["model-config.yaml", "${LAMBDA_TASK_ROOT}/"] in copies
    assert ["serverless/", "${LAMBDA_TASK_ROOT}/serverless/"] in copies
