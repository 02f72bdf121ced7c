"""SageMaker multi-model endpoints (`SAGEMAKER_MULTI_MODEL=true`): TorchServe 0.12 itself speaks the container
contract once its management API shares the public port, so `serve` only configures it.

Against the real TorchServe (tests/integration/test_sagemaker_multi_model.py):
- `POST /models` with the JSON body `{"model_name", "url"}`, `url` an extracted model folder under
  /opt/ml/models/...: TorchServe loads a folder holding an *unpacked* archive (MAR-INF/MANIFEST.json), or one
  sub-folder holding it; 200 when loaded, 409 when the name is loaded already. So each model.tar.gz of an MME
  must be an unpacked .mar: `make sagemaker-mme-artifact`. `make sagemaker-artifact`'s layout (save_pretrained
  files + code/) has no handler TorchServe knows of and answers 500.
- 507 when a worker cannot load for lack of memory: seen once by hand (not a test) with two probe archives whose
  handler raised MemoryError or SIGKILLed its own worker (what the kernel's OOM killer does); both answered 507.
- `GET /models` answers `{"models": [{"modelName", "modelUrl"}], "nextPageToken"}` with `limit` and
  `next_page_token`; `DELETE /models/<name>` 200, then 404; `POST /models/<name>/invoke` classifies (404 for a
  model not loaded). `/ping` and `/invocations` stay as they are.

Not met, or differently: `GET /models/<name>` answers TorchServe's description, a JSON *list* with modelName and
modelUrl among other fields, where the contract shows one object. A JSON registration ignores the archive's
`maxBatchDelay` (TorchServe 0.12 compares its default with a different sentinel) and batches without waiting.
Unloading under memory pressure is SageMaker's own doing (it calls DELETE); the container's part, answering 507,
holds.

TorchServe serves all of this on one loopback address (inference and management together, registration on);
the public port is `mme_gateway`'s, which passes on only the routes above and only loads of folders under
/opt/ml/models (docs/deployment-security.md).
"""

from __future__ import annotations

from sagemaker_serving.environment import ServeConfig


def multi_model_properties(config: ServeConfig) -> dict[str, str]:
    """config.properties lines that make TorchServe an MME container behind `mme_gateway`: inference and
    management together on one loopback address (TorchServe then answers the contract's routes on it)."""
    return {
        "inference_address": config.management_url,
        "management_address": config.management_url,
        "enable_model_api": "true",
        # JSON registrations start this many workers when the archive names none; TorchServe's default is 0, and
        # a model registered with 0 workers answers 200 to the load and never serves.
        "default_workers_per_model": "1",
    }
