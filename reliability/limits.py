"""The limits the catalog probes, read from the files the server is started with (never restated here)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bert_classifier.settings import read_model_config, settings_from_model_config

ROOT = Path(__file__).resolve().parent.parent
MODEL_CONFIG = ROOT / "model-config.yaml"
SERVER_CONFIG = ROOT / "config.properties"
TORCHSERVE_DEFAULT_MAX_REQUEST_SIZE = 6553500
"""TorchServe 0.12's `max_request_size` when config.properties does not set it (ConfigManager)."""


@dataclass(frozen=True)
class Limits:
    """Body and text limits of the served model, and its TorchServe batching/timeout settings."""

    body_bytes: int
    """The documented body limit: the smaller of the handler's `max_request_bytes` and the frontend's."""
    frontend_bytes: int
    """TorchServe's `max_request_size` (its own 413, before any handler runs)."""
    max_texts: int
    max_length: int
    batch_size: int
    max_batch_delay_ms: int
    response_timeout_s: int
    workers: int

    @property
    def neighbours(self) -> int:
        """Good requests sent next to each bad one: the bad one and they fill exactly one batch."""
        return max(self.batch_size - 1, 1)


def read_limits(model_config: Path = MODEL_CONFIG, server_config: Path = SERVER_CONFIG) -> Limits:
    config = read_model_config(model_config)
    settings = settings_from_model_config(config, env={})
    frontend = _property(server_config.read_text(), "max_request_size", TORCHSERVE_DEFAULT_MAX_REQUEST_SIZE)
    return Limits(
        body_bytes=min(settings.max_request_bytes, frontend),
        frontend_bytes=frontend,
        max_texts=settings.max_texts_per_request,
        max_length=settings.max_length,
        batch_size=int(config.get("batchSize", 1)),
        max_batch_delay_ms=int(config.get("maxBatchDelay", 100)),
        response_timeout_s=int(config.get("responseTimeout", 120)),
        workers=int(config.get("maxWorkers", config.get("minWorkers", 1))),
    )


def _property(text: str, key: str, default: int) -> int:
    match = re.search(rf"^{re.escape(key)}=(\d+)\s*$", text, re.MULTILINE)
    return int(match.group(1)) if match else default
