"""The server under test: the real TorchServe (`tools.server.LocalTorchServe`) serving the trained model's archive,
and what the suite reads from it: worker and frontend processes, their CPU, RSS and open files, the handler's
metrics, the handler's per-batch log lines.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests
import yaml

from tools.archive import build_archive, build_engines
from tools.management_client import ManagementClient, wait_ready
from tools.server import EVERY_BATCH_LOGGED, LocalTorchServe

from .limits import MODEL_CONFIG, Limits

MODEL = "bert"
READY_TIMEOUT = 240.0
WORKER_MARK = "model_service_worker"
BATCH_LINE = re.compile(r"batch requests=(\d+) texts=(\d+) errors=(\d+)")


@dataclass
class Archives:
    """The trained model packed once with the shipped model-config.yaml, plus a copy without its weights."""

    store: Path
    mar: str
    broken: str

    @classmethod
    def build(cls, model_dir: Path, config: Path = MODEL_CONFIG, onnx: bool = False) -> Archives:
        """`onnx`: as `make archive` builds it (ONNX fp32 + int8 and the accuracy gate, for `engine: auto`);
        without, torch only (as the integration tests build theirs: minutes faster)."""
        store = Path(tempfile.mkdtemp(prefix="reliability-store-"))
        engines = store / "engines" if onnx else None
        if engines:
            build_engines(model_dir, engines, config)
        mar = build_archive(model_dir=model_dir, model_name=MODEL, version="1.0", config_file=config, export_path=store,
                            engines_dir=engines)  # fmt: skip
        if engines:
            shutil.rmtree(engines, ignore_errors=True)
        broken = store / "broken.mar"
        _rewrite(mar, broken, drop="model.safetensors")  # passes archiving, cannot load
        return cls(store, mar.name, broken.name)

    def variant(self, name: str, base: str | None = None, **overrides) -> str:
        """A copy of `base` (the model's archive) named `<name>.mar` whose model-config.yaml has `overrides`."""
        source = self.store / (base or self.mar)
        with zipfile.ZipFile(source) as archive:
            config = yaml.safe_load(archive.read("model-config.yaml")) | overrides
        _rewrite(source, self.store / f"{name}.mar", replace={"model-config.yaml": yaml.safe_dump(config).encode()})
        return f"{name}.mar"

    def cleanup(self) -> None:
        shutil.rmtree(self.store, ignore_errors=True)


def _rewrite(source: Path, target: Path, drop: str | None = None, replace: dict[str, bytes] | None = None) -> None:
    """A copy of a .mar without the member `drop` and with the members of `replace` swapped."""
    replace = replace or {}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as new:
        for item in old.infolist():
            if item.filename != drop:
                new.writestr(item, replace.get(item.filename, old.read(item)))


@dataclass
class Served:
    """One running TorchServe with the model registered as `MODEL`."""

    server: LocalTorchServe
    limits: Limits
    model: str = MODEL
    log_dirs: list[Path] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        archives: Archives,
        limits: Limits,
        *,
        mar: str | None = None,
        max_batch_delay_ms: int | None = None,
        env: dict[str, str] | None = None,
        extra_config: dict[str, str] | None = None,
    ) -> Served:
        """Start TorchServe and register the archive; `max_batch_delay_ms` overrides the archive's (the batch
        phase uses a long one, so requests sent together reliably share a batch)."""
        env = EVERY_BATCH_LOGGED | (env or {})  # the batch lines prove which requests shared a batch
        server = LocalTorchServe(model_store=archives.store, env=env, extra_config=extra_config or {})
        server.start()
        served = cls(server, limits, log_dirs=[server.workdir])
        try:
            served.wait_for_frontend()
            served.client.register(mar or archives.mar, model_name=MODEL, max_batch_delay=max_batch_delay_ms)
            served.wait_ready()
        except BaseException:
            served.stop()
            raise
        return served

    @property
    def url(self) -> str:
        return f"{self.server.inference_url}/predictions/{self.model}"

    @property
    def client(self) -> ManagementClient:
        """Synchronous registration and scaling wait for the workers: allow them as long as a start."""
        return ManagementClient(self.server.management_url, timeout=READY_TIMEOUT)

    def wait_for_frontend(self, timeout: float = 120.0) -> None:
        from tools.server import wait_for

        def answers() -> bool:
            try:
                return requests.get(f"{self.server.management_url}/models", timeout=5).ok
            except requests.RequestException:
                return False

        wait_for(answers, timeout, "TorchServe's management API")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> float:
        return wait_ready(self.client, self.model, inference_url=self.server.inference_url, timeout=timeout)

    def stop(self) -> None:
        self.server.stop()

    def describe(self) -> dict:
        return self.client.describe(self.model)[0]

    # --- processes ---------------------------------------------------------------------------------------

    def processes(self) -> list[psutil.Process]:
        if self.server.process is None:
            return []
        try:
            return psutil.Process(self.server.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def worker_pids(self) -> list[int]:
        return sorted(p.pid for p in self.processes() if _is_worker(p))

    def frontend_pid(self) -> int | None:
        return next((p.pid for p in self.processes() if _name(p) == "java"), None)

    def queue(self) -> dict:
        """TorchServe's job queue for the model: `pendingRequests` and `remainingCapacity`."""
        return self.describe().get("jobQueueStatus", {})

    # --- what the handler reported -------------------------------------------------------------------------

    def metrics(self) -> dict[str, float]:
        """Every metric of TorchServe's Prometheus endpoint, summed over label sets (empty if unreachable)."""
        try:
            text = requests.get(f"{self.server.metrics_url}/metrics", timeout=10).text
        except requests.RequestException:
            return {}
        return parse_prometheus(text)

    def batch_lines(self, start: int = 0) -> list[tuple[int, int, int]]:
        """(requests, texts, errors) of each handler batch line in model_log.log from line `start` on."""
        lines = self.server.model_log().splitlines()[start:]
        return [tuple(map(int, m.groups())) for m in map(BATCH_LINE.search, lines) if m]

    def model_log_lines(self) -> int:
        return len(self.server.model_log().splitlines())

    def worker_logs(self) -> str:
        return self.server.all_logs()


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""


def _is_worker(process: psutil.Process) -> bool:
    try:
        return any(WORKER_MARK in part for part in process.cmdline())
    except psutil.Error:
        return False


def parse_prometheus(text: str) -> dict[str, float]:
    """`{name: value summed over its label sets}` from Prometheus text format (comments skipped)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, number = line.rpartition(" ")
        name = head.partition("{")[0]
        try:
            values[name] = values.get(name, 0.0) + float(number)
        except ValueError:
            continue
    return values
