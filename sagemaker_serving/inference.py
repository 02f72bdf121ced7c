"""SageMaker script mode: `model_fn`, `input_fn`, `predict_fn`, `output_fn` for AWS's PyTorch inference
containers, over the same `bert_classifier` core as our TorchServe handler.

`make sagemaker-artifact` ships this file as code/inference.py in model.tar.gz, next to code/bert_classifier/,
code/model-config.yaml (the handler settings) and code/requirements.txt. Debug it locally exactly as the
container calls it:

    from sagemaker_serving.inference import input_fn, model_fn, output_fn, predict_fn
    body, content_type = output_fn(predict_fn(input_fn(payload, "application/json"), model_fn("artifacts/")),
                                   "application/json")

Errors. `input_fn` and `output_fn` raise the core's errors: `InvalidInput` (400), `PayloadTooLarge` (413),
`UnsupportedMediaType` (415), `NotAcceptable` (406). Inside an AWS container (where `sagemaker_inference` can be
imported) they raise the toolkit's `GenericInferenceToolkitError` with the same status instead: its transformer
answers that status for that exception type only, and 500 for anything else. The toolkit's error body is the
JSON error of the request's protocol (first line) followed by its stack trace; our own image answers the JSON
error alone.

Protocols. As through the TorchServe handler, a KServe v1 body (`{"instances": ...}`) or an Open Inference
Protocol body (`{"inputs": [<tensor>]}`) is answered, and its errors shaped, in its own protocol; OIP answers name
the model `model` (script mode is not told a name). OIP binary tensor outputs are refused with 406: the toolkit
sends no response header but Content-Type, and they need `Inference-Header-Content-Length`.

Accept. The toolkit replaces a missing or `*/*` Accept with `$SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT`
(application/json), so here a CSV request without Accept gets JSON; set Accept (Batch Transform: `Accept`).

Explanations. A request with `explain=true` in its Custom Attributes (boto3: `invoke_endpoint(...,
CustomAttributes="explain=true")`) is explained instead of classified (docs/explanations.md). The toolkit hands
`predict_fn` the model server's context, whose first request is this one at the toolkit's batch size of 1 (it
reads every request's Content-Type from the first request's headers too). Without a context: a prediction.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path

from bert_classifier.codecs import (
    UNNAMED_MODEL,
    ModelIdentity,
    ParsedRequest,
    Protocol,
    choose_response_format,
    decode_request,
    encode_results,
)
from bert_classifier.device import usable_cores
from bert_classifier.errors import InternalError, NotAcceptable, ServingError
from bert_classifier.explain import CUSTOM_ATTRIBUTES, custom_attributes_ask, explanation_format
from bert_classifier.messages import error_response, log_fault
from bert_classifier.service import InferenceService
from bert_classifier.settings import Settings, read_model_config, settings_from_model_config
from bert_classifier.startup import start_service

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
# code/model-config.yaml inside model.tar.gz; the repository's own when run from a checkout.
MODEL_CONFIGS = (HERE / "model-config.yaml", HERE.parent / "model-config.yaml")


@dataclass(frozen=True)
class Prediction:
    """What `predict_fn` hands to `output_fn`: one result per text, and the request they answer."""

    results: list[dict]
    request: ParsedRequest
    explanation: bool = False
    model: ModelIdentity = UNNAMED_MODEL
    """The name and version the service was loaded under, for protocols that echo them."""


def model_fn(model_dir: str, context=None) -> InferenceService:
    """Load the `save_pretrained` model in `model_dir` and run one warm-up prediction.

    `context` is the model server's, which the toolkit passes to a `model_fn` that takes it: it names this
    worker's GPU. Without it (local debugging) the first GPU is used when there is one.
    """
    return start_service(model_dir, _model_config(), os.environ, gpu_id=_gpu_id(context), workers=_workers())


def input_fn(input_data, content_type: str | None) -> ParsedRequest:
    """Decode a request body (bytes, or str for types the toolkit decodes) by its Content-Type."""
    try:
        settings = _settings()
        return decode_request(input_data, content_type, settings.max_texts_per_request, settings.max_request_bytes)
    except ServingError as error:
        raise _for_container(error) from None


def predict_fn(data: ParsedRequest, model: InferenceService, context=None) -> Prediction:
    """Classify the request's texts with the same code path and batching as the TorchServe handler, or explain
    them when the request asks (see the module docstring)."""
    try:
        if _explanation_asked(context):
            return Prediction(model.explain(data), data, explanation=True, model=model.model)
        return Prediction(model.predict(data), data, model=model.model)
    except ServingError as error:  # a client's mistake in an explanation request (413, 400, ...)
        raise _for_container(error, data.protocol) from None
    except Exception as error:  # noqa: BLE001 - any fault is this request's 500, logged without its message
        log_fault(error, f"predict_fn, a request of {len(data.texts)} texts")
        raise _for_container(InternalError("inference failed"), data.protocol) from None


def output_fn(prediction: Prediction, accept: str | None) -> tuple[bytes, str]:
    """Encode for the Accept header in the request's protocol (our own, KServe v1 or OIP), as the TorchServe
    handler does; explanations in our own contract. (body, Content-Type) so the toolkit sends the type we produced.

    The toolkit sends no other response header, so an answer that needs one (OIP's binary tensors, which need
    `Inference-Header-Content-Length`) is refused with 406."""
    request = prediction.request
    try:
        if prediction.explanation:
            return encode_results(prediction.results, request.single, explanation_format(accept, request.format))
        protocol = request.protocol
        response_format = choose_response_format(accept, request.format, protocol.response_types)
        answer = protocol.encode(prediction.results, request.single, response_format, prediction.model)
        if answer.headers:
            raise NotAcceptable(f"script mode cannot send the answer's {', '.join(answer.headers)} header: "
                                "ask for JSON outputs, not binary data")  # fmt: skip
    except ServingError as error:
        raise _for_container(error, request.protocol) from None
    return answer.body, answer.content_type


@functools.cache
def _model_config() -> dict:
    """code/model-config.yaml (or the checkout's); read once."""
    return read_model_config(next((candidate for candidate in MODEL_CONFIGS if candidate.is_file()), None))


@functools.cache
def _settings() -> Settings:
    """Handler settings from model-config.yaml, overridden by `BERT_CLASSIFIER_*` variables; read once."""
    return settings_from_model_config(_model_config(), os.environ)


def _explanation_asked(context) -> bool:
    if context is None:
        return False
    headers = context.request_processor[0].get_request_properties() or {}
    lowered = {str(name).lower(): value for name, value in headers.items() if isinstance(value, str)}
    return custom_attributes_ask(lowered.get(CUSTOM_ATTRIBUTES))


def _gpu_id(context) -> int | str | None:
    if context is not None:
        return context.system_properties.get("gpu_id")
    import torch

    return 0 if torch.cuda.is_available() else None


def _workers() -> int:
    """Workers per model: the container's setting, else TorchServe's CPU default of one per core."""
    return int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS") or usable_cores())


def _for_container(error: ServingError, protocol: Protocol | None = None) -> Exception:
    """Inside an AWS container, the toolkit's exception carrying our status and the error body of the request's
    protocol (the one its body was recognised as, else `protocol`); our own error anywhere else."""
    try:
        from sagemaker_inference.errors import GenericInferenceToolkitError
    except ImportError:
        return error
    message = error_response(error, protocol).body.decode("ascii")
    return GenericInferenceToolkitError(error.status, message, HTTPStatus(error.status).phrase)
