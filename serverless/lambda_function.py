"""AWS Lambda behind API Gateway (proxy integration, REST API v1 and HTTP API v2 events) over the core.

    POST /classify  (any path the API routes here)  ->  bert_classifier.InferenceService.handle
    POST /explanations  (any path whose last segment is `explanations`)  ->  the same, explained
                        (docs/explanations.md: allow for its cost in the function's timeout)

The event gives the body (base64-encoded when `isBase64Encoded` is true) and the headers (any case; v2 sends
them lower-case). The answer is `{"statusCode", "headers", "body", "isBase64Encoded": false}` with the core's
Content-Type and body: results, or the core's JSON error for 4xx. A fault is a 500 with the core's generic JSON
error, and the exception's type and stack frames go to the log (never its message, which may quote the request's
text). CORS headers name the one origin `$CORS_ALLOW_ORIGIN` allows, and there are none when it is unset (an HTTP
API's own CORS configuration, as in deploy/lambda/api.yaml, then answers browsers). Explanations are off unless
`BERT_CLASSIFIER_EXPLANATIONS` turns them on (`shared`: each execution environment serves one request at a time).

The model loads once per container, on the first request, from `$MODEL_DIR` (default: the first of
/opt/ml/model and /var/task/model that exists), with the settings of `$MODEL_CONFIG` (default: the
model-config.yaml next to this package) overridden by `BERT_CLASSIFIER_*` variables, as everywhere else.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from bert_classifier.errors import InvalidInput
from bert_classifier.messages import Request, Response, error_response, log_fault
from bert_classifier.service import InferenceService
from bert_classifier.settings import read_model_config
from bert_classifier.startup import start_service

log = logging.getLogger(__name__)
log.setLevel(logging.INFO)

DEFAULT_MODEL_DIRS = (Path("/opt/ml/model"), Path("/var/task/model"))
EXPLANATION_SEGMENT = "explanations"
"""The last path segment that asks for an explanation, as TorchServe's /explanations route."""
CORS_ORIGIN_VARIABLE = "CORS_ALLOW_ORIGIN"
CORS_HEADERS = {"Access-Control-Allow-Methods": "OPTIONS,POST", "Access-Control-Allow-Headers": "Content-Type,Accept"}

_service: InferenceService | None = None


def lambda_handler(event: dict, context) -> dict:
    """Classify the request in an API Gateway proxy event; always answers, never raises."""
    if _method(event) == "OPTIONS":  # CORS preflight
        return {"statusCode": 204, "headers": _cors_headers(), "body": "", "isBase64Encoded": False}
    try:
        request = _request(event)
    except InvalidInput as error:
        return _proxy_response(error_response(error))
    try:
        response = _get_service().handle(request)
    except Exception as error:  # noqa: BLE001 - a fault must still answer (the core's 500 hides its details)
        log_fault(error, f"request {getattr(context, 'aws_request_id', '-')}")
        response = error_response(error)
    return _proxy_response(response)


def _get_service() -> InferenceService:
    """The container's one `InferenceService`, loaded (and warmed up) on first use; a failed load is retried."""
    global _service
    if _service is None:
        model_config = read_model_config(_model_config(os.environ.get("MODEL_CONFIG")))
        _service = start_service(_model_dir(os.environ.get("MODEL_DIR")), model_config, os.environ, workers=1)
    return _service


def _model_config(configured: str | None) -> Path | None:
    """$MODEL_CONFIG, else the model-config.yaml next to this package (the image copies it there)."""
    if configured:
        return Path(configured)
    shipped = Path(__file__).resolve().parent.parent / "model-config.yaml"
    return shipped if shipped.is_file() else None


def _model_dir(configured: str | None) -> Path:
    if configured:
        return Path(configured)
    return next((folder for folder in DEFAULT_MODEL_DIRS if folder.is_dir()), DEFAULT_MODEL_DIRS[0])


def _method(event: dict) -> str:
    """REST API (v1) events carry `httpMethod`; HTTP API (v2) events carry `requestContext.http.method`."""
    method = event.get("httpMethod") or (event.get("requestContext") or {}).get("http", {}).get("method")
    return str(method or "POST").upper()


def _request(event: dict) -> Request:
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    return Request(_body(event), headers.get("content-type"), headers.get("accept"), explain=_explanation_route(event))


def _explanation_route(event: dict) -> bool:
    """HTTP API (v2) events carry the path in `rawPath`, REST API (v1) events in `path`."""
    path = str(event.get("rawPath") or event.get("path") or "")
    return path.rstrip("/").rsplit("/", 1)[-1] == EXPLANATION_SEGMENT


def _body(event: dict) -> bytes | str | None:
    body = event.get("body")
    if body is None or not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("the request body is marked base64-encoded but is not valid base64") from None


def _cors_headers() -> dict[str, str]:
    """CORS headers for `$CORS_ALLOW_ORIGIN`, the one origin browsers may call from; none without it."""
    origin = os.environ.get(CORS_ORIGIN_VARIABLE, "").strip()
    return {"Access-Control-Allow-Origin": origin, **CORS_HEADERS} if origin else {}


def _proxy_response(response: Response) -> dict:
    return {
        "statusCode": response.status,
        "headers": {"Content-Type": response.content_type, **_cors_headers()},
        "body": response.body.decode("utf-8"),
        "isBase64Encoded": False,
    }
