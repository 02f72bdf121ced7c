"""`ServeConfig` -> how TorchServe is started: its config.properties, its command line and its environment.

Pure functions: nothing here reads the process environment (`torchserve_environment` gets it as an argument)
or starts anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bert_classifier.activity import ACTIVITY_DIR_VARIABLE
from sagemaker_serving.environment import LOOPBACK, ServeConfig
from sagemaker_serving.model_store import MODEL_NAME
from sagemaker_serving.multi_model import multi_model_properties
from torchserve_launcher import commands, environment
from torchserve_launcher.properties import read_properties, render_properties

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
    vmargs = read_properties(TS_CONFIG).get("vmargs") if TS_CONFIG.is_file() else None
    if vmargs:  # the JVM settings of the project's config.properties (why: there)
        properties["vmargs"] = vmargs
    if METRICS_CONFIG.is_file():  # TorchServe's metrics plus the handler's own (bert_*)
        properties["metrics_config"] = METRICS_CONFIG
    header = "# Written by sagemaker_serving/torchserve_config.py from the environment (see serve.py's docstring).\n"
    return render_properties(properties, header)


def torchserve_command(config: ServeConfig, properties: Path) -> list[str]:
    """`torchserve` in the foreground, serving the one model of the store under the name `MODEL_NAME` (none on
    a multi-model endpoint)."""
    return commands.torchserve_command(
        model_store=config.model_store,
        ts_config=properties,
        log_config=LOG_CONFIG if LOG_CONFIG.is_file() else None,
        models=None if config.multi_model else f"{MODEL_NAME}={MODEL_NAME}",
    )


def torchserve_environment(config: ServeConfig, inherited: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment with TorchServe's temp files and logs in our work folder, the activity folder
    the drain on SIGTERM watches, and the handler's body limit following SAGEMAKER_MAX_PAYLOAD_IN_MB unless
    `BERT_CLASSIFIER_MAX_REQUEST_BYTES` says otherwise."""
    env = environment.torchserve_environment(inherited, config.tmp_dir, config.log_dir)
    env[ACTIVITY_DIR_VARIABLE] = str(config.activity_dir)
    env.setdefault("BERT_CLASSIFIER_MAX_REQUEST_BYTES", str(config.max_request_bytes))
    return env
