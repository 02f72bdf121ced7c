"""`serve`: the entrypoint of the SageMaker image, started as `docker run IMAGE serve`.

    python -m sagemaker_serving.serve serve

1. Reads the environment once (`read_config`) into a frozen `ServeConfig`.
2. Puts the model from /opt/ml/model into a fresh model store as an *unpacked* archive: one `.mar` is extracted;
   `save_pretrained` files are packed with our handler by `torch-model-archiver --archive-format no-archive` (the
   same inputs as `make archive`, but a folder: nothing to zip at start-up and nothing for TorchServe to unzip),
   with the handler settings of the model's code/model-config.yaml when `make sagemaker-artifact` wrote one.
   Then it writes the environment's per-model settings into the archive's model-config.yaml, because TorchServe
   lets an archive's model-config.yaml win over config.properties for workers, batching and timeouts.
3. Writes a config.properties and runs `torchserve --foreground` until TorchServe exits or a SIGTERM/SIGINT.

What TorchServe exposes:
- `GET /ping` and `POST /invocations` on `$SM_BIND_HOST:$SAGEMAKER_BIND_TO_PORT` (0.0.0.0:8080). `/invocations`
  goes to the one model loaded at start-up, with the request's Content-Type and Accept headers.
- Management, metrics and gRPC APIs on 127.0.0.1 only (never on the public port, unlike the AWS toolkit), on the
  first ports of `$SAGEMAKER_SAFE_PORT_RANGE` when SageMaker gives one (multi-container endpoints).
- No token authorization (SageMaker sends no bearer token, and the public port serves only ping and
  invocations) and no model registration API (nothing registers models inside the container).

Environment (SageMaker sets the `SAGEMAKER_*` variables; `SM_*` exist for local runs and tests):

    SAGEMAKER_BIND_TO_PORT          public port (default 8080)
    SAGEMAKER_SAFE_PORT_RANGE       "LOW-HIGH": loopback ports for management, metrics, gRPC x2
                                    (default 8081, 8082, 7070, 7071)
    SAGEMAKER_MODEL_SERVER_WORKERS  TorchServe workers (minWorkers = maxWorkers)
    SAGEMAKER_MODEL_SERVER_TIMEOUT  seconds a worker may take for one batch (responseTimeout)
    SAGEMAKER_TS_BATCH_SIZE         requests per batch (batchSize), the AWS PyTorch containers' name
    SAGEMAKER_TS_MAX_BATCH_DELAY    milliseconds to wait to fill a batch (maxBatchDelay), same
    SAGEMAKER_MAX_PAYLOAD_IN_MB     request body limit in MiB (default 6); larger bodies get 413 with no body
    SM_OPT_ML                       stands in for /opt/ml (tests, `make sagemaker-serve-local`)
    SM_BIND_HOST                    public bind address (default 0.0.0.0; 127.0.0.1 for tests)
    TMPDIR                          the work folder (model store, TorchServe's temp files and logs) goes here

`BERT_CLASSIFIER_*` variables reach the handler unchanged (bert_classifier.settings).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psutil
import yaml

from bert_classifier.artifacts import validate_artifacts
from bert_classifier.errors import InvalidArtifacts

log = logging.getLogger("sagemaker_serving.serve")

ROOT = Path(__file__).resolve().parent.parent
METRICS_CONFIG = ROOT / "metrics.yaml"
HANDLERS = ROOT / "handlers"
DEFAULT_MODEL_CONFIG = ROOT / "model-config.yaml"
MODEL_NAME = "model"
LOOPBACK = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - SageMaker reaches the container from outside: it must listen on all
DEFAULT_PORT = 8080
DEFAULT_INTERNAL_PORTS = (8081, 8082, 7070, 7071)
MIB = 1024 * 1024
DEFAULT_PAYLOAD_MB = 6
MAX_PAYLOAD_MB = 1024
# A short input line can become a longer result line (label, id, score): let responses be larger than requests.
RESPONSE_SIZE_FACTOR = 8
JAVA_INT_MAX = 2**31 - 1
# SageMaker kills a container 30 s after SIGTERM; stopping TorchServe takes a few seconds, so 20 s leaves margin.
STOP_GRACE_SECONDS = 20
USAGE = "usage: serve\n(SageMaker runs `docker run IMAGE serve`; this image serves models and does not train)"


class ConfigError(ValueError):
    """An environment variable or the model folder cannot be used; the message says which and why."""


@dataclass(frozen=True)
class ServeConfig:
    """Everything `serve` takes from the environment."""

    work_dir: Path
    """Model store, TorchServe's temp files and logs."""
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

    @property
    def model_dir(self) -> Path:
        return self.opt_ml / "model"

    @property
    def model_store(self) -> Path:
        return self.work_dir / "model-store"

    @property
    def tmp_dir(self) -> Path:
        return self.work_dir / "tmp"

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

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
        work_dir=Path(_text(env, "TMPDIR") or tempfile.gettempdir()) / "bert-serving",
        opt_ml=Path(_text(env, "SM_OPT_ML") or "/opt/ml"),
        bind_host=_text(env, "SM_BIND_HOST") or ALL_INTERFACES,
        port=port,
        internal_ports=_internal_ports(_text(env, "SAGEMAKER_SAFE_PORT_RANGE"), port),
        max_request_bytes=payload_mb * MIB,
        workers=_integer(env, "SAGEMAKER_MODEL_SERVER_WORKERS", 1),
        response_timeout=_integer(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", 1),
        batch_size=_integer(env, "SAGEMAKER_TS_BATCH_SIZE", 1),
        max_batch_delay_ms=_integer(env, "SAGEMAKER_TS_MAX_BATCH_DELAY", 0),
    )


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _integer(env: Mapping[str, str], name: str, minimum: int, maximum: int | None = None) -> int | None:
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
        "allowed_urls": "file://.*",
        "install_py_dep_per_model": "false",
        "max_request_size": config.max_request_bytes,
        "max_response_size": min(config.max_request_bytes * RESPONSE_SIZE_FACTOR, JAVA_INT_MAX),
        "metrics_mode": "prometheus",
    }
    if METRICS_CONFIG.is_file():  # TorchServe's metrics plus the handler's own (bert_*)
        properties["metrics_config"] = METRICS_CONFIG
    lines = [f"{key}={value}" for key, value in properties.items()]
    header = "# Written by sagemaker_serving/serve.py from the environment (see its docstring).\n"
    return header + "\n".join(lines) + "\n"


def prepare_model(config: ServeConfig) -> Path:
    """Fill a fresh model store with the model as an unpacked archive carrying the environment's settings."""
    shutil.rmtree(config.model_store, ignore_errors=True)
    for folder in (config.model_store, config.tmp_dir, config.log_dir):
        folder.mkdir(parents=True, exist_ok=True)
    if not config.model_dir.is_dir():
        raise ConfigError(f"{config.model_dir} does not exist: SageMaker puts the model there")
    archives = sorted(config.model_dir.glob("*.mar"))
    if len(archives) > 1:
        names = ", ".join(archive.name for archive in archives)
        raise ConfigError(f"{config.model_dir} holds {len(archives)} .mar files ({names}); serve needs one")
    target = config.model_store / MODEL_NAME
    if archives:
        log.info("unpacking %s", archives[0])
        _unpack(archives[0], target)
    else:
        _archive_artifacts(config.model_dir, config.model_store, config.tmp_dir)
    apply_model_settings(target, config.model_settings())
    return target


def _unpack(archive: Path, target: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as mar:
            mar.extractall(target)  # zipfile drops absolute paths and '..' from member names
    except zipfile.BadZipFile:
        raise InvalidArtifacts(f"{archive} is not a TorchServe archive (not a zip file)") from None


def _archive_artifacts(model_dir: Path, store: Path, tmp_dir: Path) -> None:
    """`save_pretrained` files + our handler -> `<store>/model/`, the inputs `tools/archive.py` uses."""
    summary = validate_artifacts(model_dir)
    log.info("packing %s (%s, labels: %s)", model_dir, summary.architecture, ", ".join(summary.labels))
    command = [
        _bin("torch-model-archiver"),
        "--model-name", MODEL_NAME,
        "--version", "1.0",
        "--handler", str(HANDLERS / "torchserve_handler.py"),
        "--extra-files", f"{HANDLERS},{model_dir.resolve()}",
        "--config-file", str(_model_config_for(model_dir)),
        "--export-path", str(store),
        "--archive-format", "no-archive",
    ]  # fmt: skip
    # The archiver stages files in $TMPDIR/<model-name>: keep that in our own folder.
    subprocess.run(command, check=True, env={**os.environ, "TMPDIR": str(tmp_dir)})


def _model_config_for(model_dir: Path) -> Path:
    """The model.tar.gz's own code/model-config.yaml (`make sagemaker-artifact` writes it, and script mode reads
    it too), else the image's default."""
    shipped = model_dir / "code" / "model-config.yaml"
    return shipped if shipped.is_file() else DEFAULT_MODEL_CONFIG


def apply_model_settings(model_dir: Path, settings: Mapping[str, int]) -> None:
    """Merge `settings` into the archive's model-config.yaml (adding one, and naming it in the manifest, if the
    archive has none). TorchServe takes workers, batching and timeouts from there before config.properties."""
    manifest_path = model_dir / "MAR-INF" / "MANIFEST.json"
    if not manifest_path.is_file():
        raise InvalidArtifacts(f"{model_dir} is not a TorchServe archive: MAR-INF/MANIFEST.json is missing")
    manifest = json.loads(manifest_path.read_text())
    config_name = manifest["model"].get("configFile") or "model-config.yaml"
    config_path = model_dir / config_name
    model_config = (yaml.safe_load(config_path.read_text()) if config_path.is_file() else None) or {}
    model_config.update(settings)
    config_path.write_text(yaml.safe_dump(model_config, sort_keys=False))
    if manifest["model"].get("configFile") != config_name:
        manifest["model"]["configFile"] = config_name
        manifest_path.write_text(json.dumps(manifest, indent=2))
    log.info("model settings: %s", {key: model_config.get(key) for key in sorted(model_config) if key != "handler"})


def torchserve_command(config: ServeConfig, properties: Path) -> list[str]:
    return [_bin("torchserve"), "--start", "--foreground", "--ncs", "--model-store", str(config.model_store),
            "--ts-config", str(properties), "--models", f"{MODEL_NAME}={MODEL_NAME}"]  # fmt: skip


def torchserve_environment(config: ServeConfig, inherited: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment with TorchServe's temp files and logs in our work folder.

    PYTHONPATH is dropped: TorchServe puts an inherited PYTHONPATH *before* the model folder on its workers'
    path, so the image's own `bert_classifier` would shadow the copy inside a user's archive.
    """
    env = {key: value for key, value in inherited.items() if key != "PYTHONPATH"}
    # TMPDIR: the `torchserve` pid file; TEMP: Java's temp dir (worker sockets, archive extraction).
    env |= {"TMPDIR": str(config.tmp_dir), "TEMP": str(config.tmp_dir),
            "LOG_LOCATION": str(config.log_dir), "METRICS_LOCATION": str(config.log_dir)}  # fmt: skip
    # The handler's own body limit follows SAGEMAKER_MAX_PAYLOAD_IN_MB unless set explicitly.
    env.setdefault("BERT_CLASSIFIER_MAX_REQUEST_BYTES", str(config.max_request_bytes))
    return env


class TorchServeProcess:
    """Runs `torchserve --foreground` in its own process group and stops it on SIGTERM or SIGINT.

    The stop signal goes to TorchServe's Java frontend, which stops its workers and exits; the `torchserve`
    wrapper then returns. (The wrapper must not get the signal: it would die at once and orphan Java and the
    workers.) If TorchServe has not exited `grace_seconds` later, or on a second signal, its process group is
    killed. A requested stop exits 0.
    """

    def __init__(self, grace_seconds: int = STOP_GRACE_SECONDS) -> None:
        self.grace_seconds = grace_seconds
        self.process: subprocess.Popen | None = None
        self.stopping = False

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGALRM, self._on_grace_expired)

    def run(self, command: list[str], env: Mapping[str, str]) -> int:
        """Start TorchServe and wait for it; the exit status for this process."""
        log.info("starting: %s", " ".join(command))
        self.process = subprocess.Popen(command, env=dict(env), start_new_session=True)
        code = self.process.wait()
        signal.alarm(0)
        _kill_group(self.process.pid)  # workers of a frontend that died without stopping them
        if self.stopping:
            log.info("TorchServe stopped (exit code %d)", code)
            return 0
        log.error("TorchServe exited on its own with code %d", code)
        return 128 - code if code < 0 else code or 1

    def _on_stop_signal(self, signum: int, _frame) -> None:
        if self.process is None:  # still preparing the model: nothing to stop yet
            log.info("%s before TorchServe started: exiting", signal.Signals(signum).name)
            raise SystemExit(0)
        if self.stopping:
            self._on_grace_expired(signum, _frame)
            return
        self.stopping = True
        log.info("%s: stopping TorchServe (killed after %d s)", signal.Signals(signum).name, self.grace_seconds)
        _terminate_frontend(self.process.pid)
        signal.alarm(self.grace_seconds)

    def _on_grace_expired(self, _signum: int, _frame) -> None:
        log.warning("killing TorchServe's process group")
        if self.process is not None:
            _kill_group(self.process.pid)


def _terminate_frontend(wrapper_pid: int) -> None:
    """SIGTERM the wrapper's children (Java); the wrapper itself only if Java has not started yet."""
    try:
        wrapper = psutil.Process(wrapper_pid)
        targets = wrapper.children() or [wrapper]
    except psutil.NoSuchProcess:
        return
    for target in targets:
        with contextlib.suppress(psutil.NoSuchProcess):
            target.terminate()


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def _bin(name: str) -> str:
    """A console script installed next to this interpreter (the image's or the virtualenv's)."""
    return str(Path(sys.executable).with_name(name))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args != ["serve"]:
        print(USAGE, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(levelname)s] %(name)s - %(message)s")
    server = TorchServeProcess()
    server.install_signal_handlers()
    try:
        config = read_config(os.environ)
        log.info("%s", config)
        prepare_model(config)
        properties = config.work_dir / "config.properties"
        properties.write_text(torchserve_properties(config))
    except (ConfigError, InvalidArtifacts) as error:
        log.error("cannot serve: %s", error)
        return 2
    except subprocess.CalledProcessError as error:
        log.error("torch-model-archiver failed with exit code %d", error.returncode)
        return 1
    return server.run(torchserve_command(config, properties), torchserve_environment(config, os.environ))


if __name__ == "__main__":
    sys.exit(main())
