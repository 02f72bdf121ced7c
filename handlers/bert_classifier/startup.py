"""The start-up sequence every front end runs: settings, device, threads, load, warm-up, one log line.

The TorchServe handler, SageMaker script mode and the Lambda adapter each call `start_service` with what their
host knows (the model-config, the environment, the GPU it was given, how many workers share the cores).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from .codecs import UNNAMED_MODEL, ModelIdentity
from .cpu_affinity import pin_to_free_cores
from .device import cpu_isa, select_device, threads_per_worker
from .service import InferenceService
from .settings import settings_from_model_config

log = logging.getLogger(__name__)


def start_service(
    model_dir: str | Path,
    model_config: Mapping | None,
    env: Mapping[str, str],
    *,
    gpu_id: int | str | None = None,
    workers: int | None = None,
    model: ModelIdentity = UNNAMED_MODEL,
    pin_cores: bool = False,
) -> InferenceService:
    """A loaded, warmed-up `InferenceService`. Raises `InvalidSetting`, `InvalidArtifacts` or the warm-up's error.

    `workers` is how many processes share this machine's cores (default: the model-config's `maxWorkers`, so
    scaling up to it never oversubscribes); on a CPU each gets an equal share of torch threads. `model` is the
    name and version the host serves the model under (protocols that echo them in answers read it). With
    `pin_cores` (a model server's worker process, never a process that merely loads the model) and the
    `cpu_affinity` setting `auto`, a CPU worker keeps to cores of its own while there are free ones.
    """
    import torch

    settings = settings_from_model_config(model_config, env)
    device = select_device(gpu_id)
    cores: list[int] = []
    if device.type == "cpu":
        threads = threads_per_worker(settings.torch_threads, workers or max_workers(model_config))
        torch.set_num_threads(threads)
        if pin_cores and settings.cpu_affinity == "auto":
            cores = pin_to_free_cores(threads)
    batch_size = int((model_config or {}).get("batchSize", 1))
    service = InferenceService.load(model_dir, settings, device, model, batch_size)
    service.warm_up()
    classifier = service.classifier
    log.info(
        "loaded model from %s on %s: labels=%s engine=%s dtype=%s torch_threads=%d cores=%s forward=%s "
        "chosen by %s cpu=%s settings=%s",
        model_dir,
        classifier.device,
        ",".join(classifier.labels),
        classifier.engine.variant.engine,
        classifier.engine.variant.precision,
        torch.get_num_threads(),
        ",".join(map(str, cores)) or "any",
        classifier.forward_kind,
        classifier.selection.describe(),
        cpu_isa(),
        settings,
    )
    return service


def max_workers(model_config: Mapping | None) -> int:
    """The most workers a model-config lets TorchServe run for this model (1 when it does not say)."""
    model_config = model_config or {}
    return int(model_config.get("maxWorkers", model_config.get("minWorkers", 1)))
