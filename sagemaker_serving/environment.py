"""The environment of `serve` -> a frozen `ServeConfig`; the one place the serving entrypoint reads it.

`read_config` takes the environment as a mapping (`os.environ` in the image, a dict in tests) and either returns
a `ServeConfig` or raises `ConfigError` naming the variable. The variables, their defaults and what SageMaker
sets are listed in the docstring of `sagemaker_serving/serve.py`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from bert_classifier.settings import Settings

LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - SageMaker reaches the container from outside: it must listen on all
DEFAULT_PORT = 8080
DEFAULT_INTERNAL_PORTS = (8081, 8082, 7070, 7071)
MIB = 1024 * 1024
DEFAULT_PAYLOAD_MB = Settings.max_request_bytes // MIB  # the handler's limit (6 MiB) unless SageMaker sets one
MAX_PAYLOAD_MB = 1024
WORK_DIR_PREFIX = "bs-"


class ConfigError(ValueError):
    """An environment variable or the model folder cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ServeConfig:
    """Everything `serve` takes from the environment."""

    work_dir: Path
    """Model store, TorchServe's temp files and logs. `read_config` gives the temp folder (`TMPDIR`);
    `with_private_work_dir` replaces it by a new private folder inside it before anything is written."""
    opt_ml: Path = Path("/opt/ml")
    bind_host: str = ALL_INTERFACES
    port: int = DEFAULT_PORT
    internal_ports: tuple[int, int, int, int] = DEFAULT_INTERNAL_PORTS
    """Management, metrics, gRPC inference, gRPC management; all on 127.0.0.1."""
    max_request_bytes: int = DEFAULT_PAYLOAD_MB * MIB
    workers: int | None = None
    response_timeout: int | None = None
    batch_size: int | None = None
    max_batch_delay_ms: int | None = None
    multi_model: bool = False
    """SAGEMAKER_MULTI_MODEL=true: a multi-model endpoint loads and unloads models itself (`multi_model.py`)."""

    @property
    def model_dir(self) -> Path:
        return self.opt_ml / "model"

    @property
    def models_dir(self) -> Path:
        """Where SageMaker extracts each model of a multi-model endpoint (the only folders a load may name)."""
        return self.opt_ml / "models"

    @property
    def model_store(self) -> Path:
        return self.work_dir / "model-store"

    @property
    def tmp_dir(self) -> Path:
        return self.work_dir / "tmp"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    @property
    def activity_dir(self) -> Path:
        """Where workers mark themselves busy (`bert_classifier.activity`), for the drain on SIGTERM."""
        return self.work_dir / "activity"

    @property
    def management_url(self) -> str:
        return f"http://{LOOPBACK}:{self.internal_ports[0]}"

    def model_settings(self) -> dict[str, int]:
        """The per-model TorchServe settings the environment sets; they override the archive's own."""
        settings = {
            "minWorkers": self.workers,
            "maxWorkers": self.workers,
            "responseTimeout": self.response_timeout,
            "batchSize": self.batch_size,
            "maxBatchDelay": self.max_batch_delay_ms,
        }
        return {key: value for key, value in settings.items() if value is not None}


def read_config(env: Mapping[str, str]) -> ServeConfig:
    """The one place `serve` reads the environment. Raises `ConfigError` naming the variable."""
    port = _integer(env, "SAGEMAKER_BIND_TO_PORT", 1, 65535) or DEFAULT_PORT
    payload_mb = _integer(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", 1, MAX_PAYLOAD_MB) or DEFAULT_PAYLOAD_MB
    return ServeConfig(
        work_dir=Path(_text(env, "TMPDIR") or tempfile.gettempdir()),
        opt_ml=Path(_text(env, "SM_OPT_ML") or "/opt/ml"),
        bind_host=_text(env, "SM_BIND_HOST") or ALL_INTERFACES,
        port=port,
        internal_ports=_internal_ports(_text(env, "SAGEMAKER_SAFE_PORT_RANGE"), port),
        max_request_bytes=payload_mb * MIB,
        workers=_integer(env, "SAGEMAKER_MODEL_SERVER_WORKERS", 1),
        response_timeout=_integer(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 1),
        batch_size=_integer(env, "SAGEMAKER_TS_BATCH_SIZE", 1),
        max_batch_delay_ms=_integer(env, "SAGEMAKER_TS_MAX_BATCH_DELAY", 0),
        multi_model=_boolean(env, "SAGEMAKER_MULTI_MODEL"),
    )


def with_private_work_dir(config: ServeConfig) -> ServeConfig:
    """`config` with its work folder a new one inside the old, made by `mkdtemp`: mode 0700 and an unpredictable
    name, created only if it did not exist. A fixed name in a shared /tmp would let another local user create it
    first and plant a model store, a config.properties or a worker's temp files (an engine choice) for us to use."""
    config.work_dir.mkdir(parents=True, exist_ok=True)
    # A short prefix: the workers' Unix sockets live in <work>/tmp, and a socket path may hold only 107 bytes.
    return replace(config, work_dir=Path(tempfile.mkdtemp(prefix=WORK_DIR_PREFIX, dir=config.work_dir)))


def _text(env: Mapping[str, str], name: str) -> str | None:
    """The variable with surrounding whitespace removed; None when unset or blank."""
    value = env.get(name, "").strip()
    return value or None


def _boolean(env: Mapping[str, str], name: str) -> bool:
    """`true` or `false` (any case); unset or blank is false."""
    raw = (_text(env, name) or "false").lower()
    if raw not in ("true", "false"):
        raise ConfigError(f"{name}={raw!r} must be true or false")
    return raw == "true"


def _integer(env: Mapping[str, str], name: str, minimum: int, maximum: int | None = None) -> int | None:
    """The variable as an integer within [minimum, maximum]; None when unset or blank."""
    raw = _text(env, name)
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"at least {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(f"{name}={value} must be {bounds}")
    return value


def _internal_ports(port_range: str | None, public_port: int) -> tuple[int, int, int, int]:
    """The first four ports of `LOW-HIGH` other than the public port; the defaults without a range."""
    if port_range is None:
        return DEFAULT_INTERNAL_PORTS
    match = re.fullmatch(r"(\d+)\s*-\s*(\d+)", port_range)
    if not match:
        raise ConfigError(f"SAGEMAKER_SAFE_PORT_RANGE={port_range!r} is not LOW-HIGH")
    low, high = int(match[1]), int(match[2])
    ports = [port for port in range(low, min(high, 65535) + 1) if port != public_port][:4]
    if low < 1 or len(ports) < 4:
        raise ConfigError(f"SAGEMAKER_SAFE_PORT_RANGE={port_range!r} must hold 4 ports besides the public port")
    return ports[0], ports[1], ports[2], ports[3]
