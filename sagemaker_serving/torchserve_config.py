"""`ServeConfig` -> how TorchServe is started: its config.properties, its command line and its environment.

Pure functions: nothing here reads the process environment (`torchserve_environment` gets it as an argument)
or starts anything.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path

from bert_classifier.activity import ACTIVITY_DIR_VARIABLE
from sagemaker_serving.environment import LOOPBACK, ServeConfig
from sagemaker_serving.model_store import MODEL_NAME
from sagemaker_serving.multi_model import multi_model_properties

# The image copies the repository's layout (docker/Dockerfile), so these sit next to this package.
ROOT = Path(__file__).resolve().parent.parent
METRICS_CONFIG = ROOT / "metrics.yaml"
LOG_CONFIG = ROOT / "log4j2.xml"
TS_CONFIG = ROOT / "config.properties"
# A short input line can become a longer result line (label, id, score): let responses be larger than requests.
RESPONSE_SIZE_FACTOR = 8
JAVA_INT_MAX = 2**31 - 1


def torchserve_properties(config: ServeConfig) -> str:
    """The config.properties text for TorchServe."""
    management, metrics, grpc_inference, grpc_management = config.internal_ports
    properties = {
        "inference_address": f"http://{config.bind_host}:{config.port}",
        "management_address": f"http://{LOOPBACK}:{management}",
        "metrics_address": f"http://{LOOPBACK}:{metrics}",
        "grpc_inference_address": LOOPBACK,
        "grpc_inference_port": grpc_inference,
        "grpc_management_address": LOOPBACK,
        "grpc_management_port": grpc_management,
        "enable_model_api": "false",
        "disable_token_authorization": "true",
        "allowed_urls": "(?!)",  # no URL at all: only the store's own archive (see config.properties)
        "install_py_dep_per_model": "false",
        "max_request_size": config.max_request_bytes,
        "max_response_size": min(config.max_request_bytes * RESPONSE_SIZE_FACTOR, JAVA_INT_MAX),
        "metrics_mode": "prometheus",
    }
    if config.multi_model:
        properties |= multi_model_properties(config)
    vmargs = _shipped_property("vmargs")
    if vmargs:  # the JVM settings of the project's config.properties (why: there)
        properties["vmargs"] = vmargs
    if METRICS_CONFIG.is_file():  # TorchServe's metrics plus the handler's own (bert_*)
        properties["metrics_config"] = METRICS_CONFIG
    lines = [f"{key}={value}" for key, value in properties.items()]
    header = "# Written by sagemaker_serving/torchserve_config.py from the environment (see serve.py's docstring).\n"
    return header + "\n".join(lines) + "\n"


def torchserve_command(config: ServeConfig, properties: Path) -> list[str]:
    """`torchserve` in the foreground, serving the one model of the store under the name `MODEL_NAME` (none on
    a multi-model endpoint)."""
    command = [
        _bin("torchserve"),
        "--start",
        "--foreground",
        "--ncs",
        "--model-store",
        str(config.model_store),
        "--ts-config",
        str(properties),
    ]
    command += [] if config.multi_model else ["--models", f"{MODEL_NAME}={MODEL_NAME}"]
    return command + (["--log-config", str(LOG_CONFIG)] if LOG_CONFIG.is_file() else [])


def torchserve_environment(config: ServeConfig, inherited: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment with TorchServe's temp files and logs in our work folder.

    PYTHONPATH is dropped: TorchServe puts an inherited PYTHONPATH *before* the model folder on its workers'
    path, so the image's own `bert_classifier` would shadow the copy inside a user's archive.
    """
    env = {key: value for key, value in inherited.items() if key != "PYTHONPATH"}
    # TMPDIR: the `torchserve` pid file; TEMP: Java's temp dir (worker sockets, archive extraction).
    env |= {
        "TMPDIR": str(config.tmp_dir),
        "TEMP": str(config.tmp_dir),
        "LOG_LOCATION": str(config.log_dir),
        "METRICS_LOCATION": str(config.log_dir),
        ACTIVITY_DIR_VARIABLE: str(config.activity_dir),  # the drain on SIGTERM watches it
    }
    # The handler's own body limit follows SAGEMAKER_MAX_PAYLOAD_IN_MB unless set explicitly.
    env.setdefault("BERT_CLASSIFIER_MAX_REQUEST_BYTES", str(config.max_request_bytes))
    return env


def _shipped_property(key: str) -> str | None:
    """One setting of the project's config.properties (the one `make serve` uses), if it is there."""
    if not TS_CONFIG.is_file():
        return None
    for line in TS_CONFIG.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip() == key:
            return value.strip()
    return None


def _bin(name: str) -> str:
    """A console script installed next to this interpreter (the image's or the virtualenv's)."""
    return str(Path(sys.executable).with_name(name))
