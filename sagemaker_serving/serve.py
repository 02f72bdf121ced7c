"""`serve`: the entrypoint of the SageMaker image, started as `docker run IMAGE serve`.

    python -m sagemaker_serving.serve serve

1. Reads the environment once (`environment.read_config`) into a frozen `ServeConfig`.
2. Puts the model from /opt/ml/model into a fresh model store as an *unpacked* archive (`model_store`): one
   `.mar` is extracted; `save_pretrained` files are packed with our handler by `torch-model-archiver
   --archive-format no-archive` (the same command as `make archive`, `tools.archive.archiver_command`, but into
   a folder: nothing to zip at start-up and nothing for TorchServe to unzip), with the handler settings of the
   model's code/model-config.yaml when `make sagemaker-artifact` wrote one. Then it writes the environment's
   per-model settings into the archive's model-config.yaml, because TorchServe lets an archive's
   model-config.yaml win over config.properties for workers, batching and timeouts.
3. Writes a config.properties (`torchserve_config`) and runs `torchserve --foreground` (`process`) until
   TorchServe exits or a SIGTERM/SIGINT.

What TorchServe exposes:
- `GET /ping` and `POST /invocations` on `$SM_BIND_HOST:$SAGEMAKER_BIND_TO_PORT` (0.0.0.0:8080). `/invocations`
  goes to the one model loaded at start-up, with the request's Content-Type and Accept headers. On a multi-model
  endpoint, the contract's routes there, through `mme_gateway` (TorchServe itself on loopback).
- Management, metrics and gRPC APIs on 127.0.0.1 only (never on the public port, unlike the AWS toolkit), on the
  first ports of `$SAGEMAKER_SAFE_PORT_RANGE` when SageMaker gives one (multi-container endpoints).
- No token authorization (SageMaker sends no bearer token, and the public port serves only ping and
  invocations) and no model registration API (nothing registers models inside the container).

Environment (SageMaker sets the `SAGEMAKER_*` variables; `SM_*` exist for local runs and tests), read only by
`sagemaker_serving/environment.py`:

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
    TMPDIR                          the work folder (model store, TorchServe's temp files and logs) is a new
                                    private one in here (bs-XXXXXXXX, mode 0700)

`BERT_CLASSIFIER_*` variables reach the handler unchanged (bert_classifier.settings).
"""

from __future__ import annotations

import functools
import logging
import os
import subprocess
import sys

from bert_classifier.errors import InvalidArtifacts
from sagemaker_serving.drain import wait_until_idle
from sagemaker_serving.environment import ConfigError, read_config, with_private_work_dir
from sagemaker_serving.mme_gateway import Gateway
from sagemaker_serving.model_store import prepare_model
from sagemaker_serving.process import TorchServeProcess
from sagemaker_serving.torchserve_config import torchserve_command, torchserve_environment, torchserve_properties

# Not __name__: run as `python -m sagemaker_serving.serve`, this module is `__main__`.
log = logging.getLogger("sagemaker_serving.serve")

USAGE = "usage: serve\n(SageMaker runs `docker run IMAGE serve`; this image serves models and does not train)"


def main(argv: list[str] | None = None) -> int:
    """`serve`: prepare the model and run TorchServe until it exits or is stopped; the process's exit status.

    2 for usage, configuration or model errors (before TorchServe starts), 1 if the archiver fails; otherwise
    what `TorchServeProcess.run` returns (0 after a requested stop).
    """
    args = sys.argv[1:] if argv is None else argv
    if args != ["serve"]:
        print(USAGE, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(levelname)s] %(name)s - %(message)s")
    server = TorchServeProcess()
    server.install_signal_handlers()
    try:
        config = with_private_work_dir(read_config(os.environ))
        log.info("%s", config)
        server.drain = functools.partial(wait_until_idle, config.management_url, config.activity_dir)
        prepare_model(config)
        properties = config.work_dir / "config.properties"
        properties.write_text(torchserve_properties(config))
    except (ConfigError, InvalidArtifacts) as error:
        log.error("cannot serve: %s", error)
        return 2
    except subprocess.CalledProcessError as error:
        log.error("torch-model-archiver failed with exit code %d", error.returncode)
        return 1
    if config.multi_model:  # the public port passes on only the MME contract's routes
        gateway = Gateway(config.bind_host, config.port, config.management_url, config.models_dir,
                          config.max_request_bytes)  # fmt: skip
        gateway.start_in_thread()
    return server.run(torchserve_command(config, properties), torchserve_environment(config, os.environ))


if __name__ == "__main__":
    sys.exit(main())
