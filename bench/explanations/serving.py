"""The server under measurement: the real TorchServe (`tools.server.LocalTorchServe`) serving the archive as
`make serve` does: the prediction workers from the archive's model-config.yaml, and the same archive registered
again as `<model>_explain` with one worker and batchSize 1."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

MODEL = "bert"
EXPLAIN_MODEL = f"{MODEL}_explain"
EXPLAIN_WORKERS, EXPLAIN_BATCH_SIZE = 1, 1
"""As `make serve` registers the explain pool (Makefile `EXPLAIN_WORKERS`, `--batch-size 1`)."""
READY_TIMEOUT = 300.0


def prepare_store(model_dir: Path, config: Path, mar: Path | None, onnx: bool) -> tuple[Path, str]:
    """A temporary model store holding `MODEL.mar`: a copy of `mar`, or built from `model_dir` as `make archive`
    builds it (`onnx`: ONNX export and accuracy gate; else torch only, minutes faster). Returns the store and
    how the archive came to be."""
    from tools.archive import build_archive, build_engines

    store = Path(tempfile.mkdtemp(prefix="explain-bench-store-"))
    if mar:
        shutil.copyfile(mar, store / f"{MODEL}.mar")
        return store, f"{mar} (given)"
    engines = store / "engines" if onnx else None
    if engines:
        build_engines(model_dir, engines, config)
    build_archive(model_dir=model_dir, model_name=MODEL, version="1.0", config_file=config, export_path=store,
                  engines_dir=engines)  # fmt: skip
    if engines:
        shutil.rmtree(engines, ignore_errors=True)
    how = "torch + ONNX engines and accuracy gate (engine: auto)" if onnx else "torch only"
    return store, f"built from {model_dir} with {config.name}: {how}"


@dataclass
class Server:
    server: object
    """`tools.server.LocalTorchServe`."""

    @classmethod
    def start(cls, store: Path) -> Server:
        from tools.management_client import wait_ready
        from tools.server import LocalTorchServe

        # `shared`: the bench measures explanations on the prediction workers as well as on their own pool.
        server = LocalTorchServe(model_store=store, env={"BERT_CLASSIFIER_EXPLANATIONS": "shared"})
        server.start(f"{MODEL}={MODEL}.mar")
        started = cls(server)
        try:
            wait_ready(started.client, MODEL, inference_url=server.inference_url, timeout=READY_TIMEOUT)
        except BaseException:
            started.stop()
            raise
        return started

    @property
    def client(self):
        from tools.management_client import ManagementClient

        return ManagementClient(self.server.management_url, timeout=READY_TIMEOUT)

    def url(self, route: str, model: str) -> str:
        return f"{self.server.inference_url}/{route}/{model}"

    def register_explain_pool(self) -> None:
        from tools.management_client import wait_ready

        self.client.register(f"{MODEL}.mar", model_name=EXPLAIN_MODEL, workers=EXPLAIN_WORKERS,
                             batch_size=EXPLAIN_BATCH_SIZE)  # fmt: skip
        wait_ready(self.client, EXPLAIN_MODEL, inference_url=self.server.inference_url, timeout=READY_TIMEOUT)

    def unregister_explain_pool(self) -> None:
        self.client.unregister(EXPLAIN_MODEL)

    def pool_config(self, model: str) -> dict:
        """The frontend settings TorchServe reports for `model`."""
        found = self.client.describe(model)[0]
        keys = ("minWorkers", "maxWorkers", "batchSize", "maxBatchDelay", "responseTimeout")
        return {key: found.get(key) for key in keys} | {"workers": len(found.get("workers", []))}

    def baselines_logged(self) -> int:
        """Workers that have explained once (each logs its baseline token at its first explanation)."""
        return self.server.model_log().count("explanation baseline token")

    def model_log(self) -> str:
        return self.server.model_log()

    def log_tail(self) -> str:
        return self.server.all_logs()[-3000:]

    def stop(self) -> None:
        self.server.stop()
        self.server.cleanup()
