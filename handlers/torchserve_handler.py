"""TorchServe adapter: hands each batch to `bert_classifier.InferenceService` and sets per-request statuses.

TorchServe's model loader needs exactly one class defined in this module, so everything else lives in the
`bert_classifier` package (shipped next to this file inside the .mar).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time

from ts.torch_handler.base_handler import BaseHandler

from bert_classifier.activity import busy
from bert_classifier.codecs import ModelIdentity
from bert_classifier.codecs.open_inference import TORCHSERVE_GRPC
from bert_classifier.explain import CUSTOM_ATTRIBUTES, custom_attributes_ask
from bert_classifier.messages import Request, Response, guarded
from bert_classifier.metrics import COUNTER, MetricsBuffer, batch_metrics
from bert_classifier.startup import start_service
from torchserve_worker import buffer_socket_reads, drop_per_batch_lines

log = logging.getLogger(__name__)

METRICS_INTERVAL = 1.0
"""Seconds between metric hand-overs to TorchServe under load (`MetricsBuffer`); Prometheus scrapes far less often."""

RAW_BODIES = {"TS_DECODE_INPUT_REQUEST": "false"}
"""TorchServe's worker reads this variable for every request: with it, each body reaches us as the bytes the
client sent. Without it the worker `json.loads` bodies sent as exactly `application/json` (turning `\\ud800` into a
lone surrogate before we can refuse it) and decodes `text/*` as UTF-8 whatever their charset, while a
`application/json; charset=utf-8` body stays bytes: the same JSON read two ways."""


class BertClassifierHandler(BaseHandler):
    """Batches of JSON/text/CSV requests in, one response per request out."""

    def initialize(self, context) -> None:
        os.environ.update(RAW_BODIES)
        drop_per_batch_lines()
        buffer_socket_reads()
        self.metrics = MetricsBuffer(METRICS_INTERVAL)
        self._metrics_lock = threading.Lock()
        self._metrics_timer: threading.Timer | None = None
        properties = context.system_properties
        self.service = start_service(
            properties["model_dir"],
            context.model_yaml_config,
            os.environ,
            gpu_id=properties.get("gpu_id"),
            model=_model_identity(context),
            pin_cores=_in_torchserve_worker(),
        )
        self.initialized = True

    def handle(self, data, context):
        """One answer per request, always: nothing raised while handling one request reaches TorchServe, which
        would fail the whole batch."""
        with busy():
            responses = guarded(self._answer_all, data, context)
        if isinstance(responses, Response):  # the adapter itself failed: every request gets that 500
            responses = [responses] * len(data)
        for index, response in enumerate(responses):
            context.set_response_status(response.status, response.phrase, index)
            context.set_response_content_type(index, response.content_type)
            for name, value in response.headers.items():
                context.set_response_header(index, name, value)
        return [response.body for response in responses]

    def _answer_all(self, data, context) -> list[Response]:
        requests = [guarded(_request, row, context, index) for index, row in enumerate(data)]
        outcome = self.service.handle_batch([item for item in requests if isinstance(item, Request)])
        answers = iter(outcome.responses)
        responses = [item if isinstance(item, Response) else next(answers) for item in requests]
        guarded(self._record_metrics, context.metrics, batch_metrics(len(responses), outcome))  # never fail a batch
        return responses

    def _record_metrics(self, store, metrics) -> None:
        """Hand the metrics on when due; what is held is handed on by a timer at the end of the interval."""
        with self._metrics_lock:
            _emit_metrics(store, self.metrics.add(metrics, time.monotonic()))
            if self.metrics.pending and self._metrics_timer is None:
                self._metrics_timer = threading.Timer(self.metrics.interval, self._release_metrics, (store,))
                self._metrics_timer.daemon = True
                self._metrics_timer.start()

    def _release_metrics(self, store) -> None:
        with self._metrics_lock:
            self._metrics_timer = None
            _emit_metrics(store, self.metrics.release(time.monotonic()))


def _in_torchserve_worker() -> bool:
    """True in a worker process TorchServe started; False where the handler is loaded into another process (a test,
    a notebook), whose cores are not ours to pin."""
    return getattr(sys.modules.get("__main__"), "__file__", "").endswith("model_service_worker.py")


def _model_identity(context) -> ModelIdentity:
    """The name and version the archive was registered with (OIP answers echo them)."""
    manifest = (context.manifest or {}).get("model", {})
    return ModelIdentity(str(context.model_name), str(manifest.get("modelVersion", "")))


def _request(row, context, index: int) -> Request:
    """TorchServe puts the body under "body" or "data" (or, for a form post, one entry per form field); a gRPC
    `Predictions` call under the keys of its `input` map (`data` in TorchServe's examples)."""
    properties = context.get_all_request_header(index) or {}
    headers = _headers(properties)
    if not isinstance(row, dict):
        body = row
    elif "body" in row or "data" in row:
        body = row["body"] if "body" in row else row["data"]
    else:
        body = _form_field(row)
    return Request(
        body=body,
        content_type=headers.get("content-type"),
        accept=headers.get("accept"),
        headers=headers,
        protocol=TORCHSERVE_GRPC if _from_open_inference_grpc(properties) else None,
        explain=_explanation_asked(properties, headers),
    )


def _explanation_asked(properties: dict, headers: dict[str, str]) -> bool:
    """TorchServe's frontend sets the `explain` property, exactly so named, to "True" on /explanations/<model>,
    /v1/models/<model>:explain and /v2/models/<model>/explain and to "False" on their prediction routes, after the
    client's headers (which cannot override it). On the routes where it sets none (SageMaker's /invocations), the
    client asks with `explain=true` in X-Amzn-SageMaker-Custom-Attributes."""
    if "explain" in properties:
        return properties["explain"] == "True"
    return custom_attributes_ask(headers.get(CUSTOM_ATTRIBUTES))


def _headers(properties: dict) -> dict[str, str]:
    """The request's headers by lower-case name: HTTP header names are case-insensitive, and HTTP/2 proxies and
    many clients send them in lower case, while TorchServe keeps each name as it arrived."""
    return {str(name).lower(): value for name, value in properties.items() if isinstance(value, str)}


def _from_open_inference_grpc(properties: dict) -> bool:
    """TorchServe's OIP gRPC service (`ModelInfer`) hands over JSON it wrote itself, as a "body" typed
    `application/json`, and no header: every HTTP request has headers (at least Content-Length), and the other
    gRPC service (`Predictions`) types none of its inputs. Its answer must be JSON the frontend can parse back."""
    no_headers = not any(isinstance(value, str) for value in properties.values())
    return no_headers and properties.get("body") == {"content-type": "application/json"}


def _form_field(fields: dict):
    """A form post (`curl -d 'text=...'`): the value of its only field is the body. TorchServe's frontend
    drops a form body that is not `name=value` pairs, which leaves no field and an empty body."""
    return next(iter(fields.values())) if len(fields) == 1 else None


def _emit_metrics(store, metrics) -> None:
    """Hand metrics to TorchServe; a metrics problem must never fail the batch."""
    from ts.metrics.dimension import Dimension
    from ts.metrics.metric_type_enum import MetricTypes

    for metric in metrics:
        # A fresh list each call: TorchServe appends its default dimensions to the list it is given.
        dimensions = [Dimension("ErrorType", metric.error_type)] if metric.error_type else []
        kind = MetricTypes.COUNTER if metric.kind == COUNTER else MetricTypes.GAUGE
        try:
            store.add_metric(metric.name, metric.value, metric.unit, dimensions=dimensions, metric_type=kind)
        except Exception:
            log.warning("could not record metric %s", metric.name, exc_info=True)
