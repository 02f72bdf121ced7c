"""SAGEMAKER_MULTI_MODEL: read from the environment, and what it changes in TorchServe's configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from sagemaker_serving.environment import ConfigError, read_config
from sagemaker_serving.mme_gateway import Gateway, Refused, check_load, check_route
from sagemaker_serving.torchserve_config import torchserve_command, torchserve_properties
from tools.server import free_port

pytestmark = pytest.mark.unit


def lines(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


@pytest.mark.parametrize(("value", "expected"), [("true", True), ("TRUE", True), ("false", False), ("", False)])
def test_the_switch_is_true_or_false(value, expected):
    assert read_config({"SAGEMAKER_MULTI_MODEL": value}).multi_model is expected


def test_anything_else_is_refused_by_name():
    with pytest.raises(ConfigError, match="SAGEMAKER_MULTI_MODEL"):
        read_config({"SAGEMAKER_MULTI_MODEL": "yes"})


def test_multi_model_keeps_torchserve_on_loopback_behind_the_gateway_and_starts_no_model():
    config = read_config({"SAGEMAKER_MULTI_MODEL": "true", "SAGEMAKER_BIND_TO_PORT": "9000"})
    properties = lines(torchserve_properties(config))
    # Registration is on, but never on the public port: there the gateway passes on the MME routes only.
    assert properties["management_address"] == properties["inference_address"] == config.management_url
    assert config.management_url.startswith("http://127.0.0.1:")
    assert ":9000" not in torchserve_properties(config)
    assert properties["enable_model_api"] == "true"
    assert properties["allowed_urls"] == "(?!)"  # folders only, never a download
    assert "--models" not in torchserve_command(config, Path("c.properties"))


def test_a_single_model_endpoint_keeps_management_on_loopback_and_registration_off():
    config = read_config({})
    properties = lines(torchserve_properties(config))
    assert properties["management_address"].startswith("http://127.0.0.1:")
    assert properties["enable_model_api"] == "false"
    assert "--models" in torchserve_command(config, Path("c.properties"))


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/ping"),
        ("POST", "/invocations"),
        ("GET", "/models"),
        ("POST", "/models"),
        ("GET", "/models/news-a"),
        ("DELETE", "/models/news-a"),
        ("POST", "/models/news-a/invoke"),
    ],
)
def test_the_gateway_passes_on_the_mme_contracts_routes(method, path):
    check_route(method, path)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/models/news-a"),  # scale workers
        ("PUT", "/models/news-a/1.0/set-default"),
        ("DELETE", "/models/news-a/1.0"),
        ("POST", "/predictions/news-a"),
        ("GET", "/api-description"),
        ("OPTIONS", "/models"),
        ("POST", "/models/../models"),
        ("GET", "/metrics"),
    ],
)
def test_the_gateway_refuses_every_other_route_with_a_404(method, path):
    with pytest.raises(Refused) as refused:
        check_route(method, path)
    assert refused.value.status == 404


MODELS = Path("/opt/ml/models")


def test_a_load_of_a_folder_sagemaker_extracted_passes():
    check_load(json.dumps({"model_name": "news-a", "url": "/opt/ml/models/abc123/model"}).encode(), "", MODELS)


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({"model_name": "x", "url": "/tmp/planted"}, ""),
        ({"model_name": "x", "url": "/opt/ml/models/../../../tmp/planted"}, ""),
        ({"model_name": "x", "url": "/opt/ml/models"}, ""),
        ({"model_name": "x", "url": "models/abc/model"}, ""),
        ({"model_name": "x", "url": "file:///opt/ml/models/abc/model"}, ""),
        ({"model_name": "x", "url": "/opt/ml/models/a/model", "initial_workers": 64}, ""),
        ({"model_name": "../x", "url": "/opt/ml/models/a/model"}, ""),
        ({"model_name": "x", "url": "/opt/ml/models/a/model"}, "initial_workers=64"),
        ("not json", ""),
    ],
)
def test_a_load_of_anything_else_is_a_403(body, query):
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    with pytest.raises(Refused) as refused:
        check_load(raw, query, MODELS)
    assert refused.value.status == 403


@pytest.fixture(scope="module")
def gateway_without_torchserve():
    """The gateway on a free port, in front of a port nothing listens on (TorchServe stopped)."""
    gateway = Gateway("127.0.0.1", free_port(), f"http://127.0.0.1:{free_port()}", MODELS, max_body=1000)
    gateway.start_in_thread()
    return f"http://127.0.0.1:{gateway.port}"


def test_the_gateway_answers_refusals_itself_and_503_while_torchserve_is_not_there(gateway_without_torchserve):
    url = gateway_without_torchserve
    refused = requests.put(f"{url}/models/news-a", timeout=10)
    assert (refused.status_code, refused.json()["code"]) == (404, 404)
    assert requests.post(f"{url}/models", json={"model_name": "x", "url": "/tmp/x"}, timeout=10).status_code == 403
    assert requests.post(f"{url}/models/news-a/invoke", data=b"x" * 1001, timeout=10).status_code == 413
    unavailable = requests.post(f"{url}/models/news-a/invoke", data=b'{"text": "x"}', timeout=10)
    assert unavailable.status_code == 503
    assert "retry" in unavailable.json()["message"]
