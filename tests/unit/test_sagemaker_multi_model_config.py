"""SAGEMAKER_MULTI_MODEL: read from the environment, and what it changes in TorchServe's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_serving.environment import ConfigError, read_config
from sagemaker_serving.torchserve_config import torchserve_command, torchserve_properties

pytestmark = pytest.mark.unit


def lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("false", False), ("", False)])
def test_the_switch_is_true_or_false(value, expected):
    assert read_config({"SAGEMAKER_MULTI_MODEL": value}).multi_model is expected


def test_anything_else_is_refused_by_name():
    with pytest.raises(ConfigError, match="SAGEMAKER_MULTI_MODEL"):
        read_config({"SAGEMAKER_MULTI_MODEL": "yes"})


def test_multi_model_puts_registration_on_the_public_port_and_starts_no_model():
    config = read_config({"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_BIND_TO_PORT": "9000"})
    properties = lines(torchserve_properties(config))
    assert properties["management_address"] == properties["inference_address"] == "http://0.0.0.0:9000"
    assert properties["enable_model_api"] == "true"
    assert properties["allowed_urls"] == "(?!)"  # folders only, never a download
    assert "--models" not in torchserve_command(config, Path("c.properties"))


def test_a_single_model_endpoint_keeps_management_on_loopback_and_registration_off():
    config = read_config({})
    properties = lines(torchserve_properties(config))
    assert properties["management_address"].startswith("http://127.0.0.1:")
    assert properties["enable_model_api"] == "false"
    assert "--models" in torchserve_command(config, Path("c.properties"))
