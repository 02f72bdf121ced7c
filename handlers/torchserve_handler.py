"""TorchServe adapter: hands each batch to `bert_classifier.InferenceService` and sets per-request statuses.

TorchServe's model loader needs exactly one class defined in this module, so everything else lives in the
`bert_classifier` package (shipped next to this file inside the .mar).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from ts.torch_handler.base_handler import BaseHandler

from bert_classifier.device import cpu_isa, select_device, threads_per_worker
from bert_classifier.metrics import COUNTER, MetricsBuffer, batch_metrics
from bert_classifier.service import InferenceService, Request
from bert_classifier.settings import read_settings

log = logging.getLogger(__name__)

METRICS_INTERVAL = 1.0
"""Seconds between metric hand-overs to TorchServe under load (`MetricsBuffer`); Prometheus scrapes far less often."""


class BertClassifierHandler(BaseHandler):
    """Batches of JSON/text/CSV requests in, one response per request out."""

    def initialize(self, context) -> None:
        import torch

        properties = context.system_properties
        model_config = context.model_yaml_config or {}
        settings = read_settings(model_config.get("handler"), os.environ)
        device = select_device(properties.get("gpu_id"))
        if device.type == "cpu":
            torch.set_num_threads(threads_per_worker(settings.torch_threads, _max_workers(model_config)))
        self.metrics = MetricsBuffer(METRICS_INTERVAL)
        self._metrics_lock = threading.Lock()
        self._metrics_timer: threading.Timer | None = None
        self.service = InferenceService.load(properties["model_dir"], settings, device)
        self.service.warm_up()
        self.initialized = True
        classifier = self.service.classifier
        log.info(
            "loaded model from %s on %s: labels=%s engine=%s dtype=%s torch_threads=%d forward=%s chosen by %s "
            "cpu=%s settings=%s",
            properties["model_dir"],
            classifier.device,
            ",".join(classifier.labels),
            classifier.engine.variant.engine,
            classifier.engine.variant.precision,
            torch.get_num_threads(),
            classifier.forward_kind,
            classifier.selection.describe(),
            cpu_isa(),
            settings,
        )

    def handle(self, data, context):
        requests = [_request(row, context, index) for index, row in enumerate(data)]
        outcome = self.service.handle_batch(requests)
        for index, response in enumerate(outcome.responses):
            context.set_response_status(response.status, response.phrase, index)
            context.set_response_content_type(index, response.content_type)
        self._record_metrics(context.metrics, batch_metrics(len(requests), outcome))
        return [response.body for response in outcome.responses]

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


def _max_workers(model_config: dict) -> int:
    """Threads are shared out among the most workers this model may scale to, so scaling never oversubscribes."""
    return int(model_config.get("maxWorkers", model_config.get("minWorkers", 1)))


def _request(row, context, index: int) -> Request:
    """TorchServe puts the body under "body" or "data" (or, for a form post, one entry per form field)."""
    content_type = context.get_request_header(index, "Content-Type")
    if not isinstance(row, dict):
        body = row
    elif "body" in row or "data" in row:
        body = row["body"] if "body" in row else row["data"]
        body = _as_json_text(body) if content_type == "application/json" else body
    else:
        body = _form_field(row)
    return Request(body=body, content_type=content_type, accept=context.get_request_header(index, "Accept"))


def _as_json_text(body):
    """With exactly `application/json` TorchServe hands over `json.loads(body)` (or the bytes if that failed).
    The core takes a str as the body's text, so a parsed JSON string, number, boolean or null goes back to JSON
    text; parsed objects and lists (and undecodable bytes) pass as they are."""
    return body if isinstance(body, (bytes, bytearray, dict, list)) else json.dumps(body)


def _form_field(fields: dict):
    """A form post (`curl -d 'text=...'`): the value of its only field is the body. TorchServe's frontend
    drops a form body that is not `name=value` pairs, which leaves no field and an empty body."""
    return next(iter(fields.values())) if len(fields) == 1 else None


def _emit_metrics(store, metrics) -> None:
    """Hand the batch's metrics to TorchServe; a metrics problem must never fail the batch."""
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
