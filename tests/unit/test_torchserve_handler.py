"""The TorchServe adapter, loaded by TorchServe's own model loader and called through its own `Service.predict`
with batches shaped as its worker builds them from the frontend's messages (no Java, no sockets)."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GOOD = b'{"data": ["Shares fell after the profit warning."]}'


@pytest.fixture(scope="module")
def service(tiny_bert_dir, tmp_path_factory):
    """TorchServe's `Service` around our handler, as a worker holds it after loading an unpacked archive."""
    from ts.metrics.metric_cache_yaml_impl import MetricsCacheYamlImpl
    from ts.model_loader import TsModelLoader

    model_dir = tmp_path_factory.mktemp("unpacked") / "tiny"
    shutil.copytree(tiny_bert_dir, model_dir)
    (model_dir / "MAR-INF").mkdir()
    manifest = {"model": {"modelName": "tiny", "handler": "torchserve_handler.py", "configFile": "model-config.yaml"}}
    (model_dir / "MAR-INF" / "MANIFEST.json").write_text(json.dumps(manifest))
    config = {"minWorkers": 1, "maxWorkers": 1, "handler": {"max_texts_per_request": 4, "explanations": "shared"}}
    (model_dir / "model-config.yaml").write_text(yaml.safe_dump(config))
    metrics = MetricsCacheYamlImpl(config_file_path=str(ROOT / "metrics.yaml"))
    metrics.initialize_cache()
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("TS_DECODE_INPUT_REQUEST", "true")  # TorchServe's default; the handler changes it
        service = TsModelLoader().load("tiny", str(model_dir), "torchserve_handler.py", None, 8, metrics_cache=metrics)
        service.set_cl_socket(None)  # the worker sets its socket to the frontend; nothing here streams
        yield service


class Frames:
    """Bytes as the frontend sends them to a worker, read by the worker's own `otf_message_handler`."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)

    def recv(self, size: int) -> bytes:
        chunk, self.data = self.data[:size], self.data[size:]
        return bytes(chunk)


def field(value: bytes) -> bytes:
    return struct.pack("!i", len(value)) + value


def request(body: bytes, headers: dict[str, str] | None = None, name: str = "body") -> dict:
    """One request as TorchServe's worker reads it off the socket: the frontend sends a body parameter with the
    request's media type (no charset), and the worker decodes it by that type unless told not to."""
    content_type = next((v for k, v in (headers or {}).items() if k.lower() == "content-type"), "")
    frame = field(b"id")
    frame += b"".join(field(key.encode()) + field(value.encode()) for key, value in (headers or {}).items())
    frame += struct.pack("!i", -1)
    frame += field(name.encode()) + field(content_type.split(";")[0].strip().encode()) + field(body)
    frame += struct.pack("!i", -1)
    from ts.protocol.otf_message_handler import _retrieve_request

    return _retrieve_request(Frames(frame))


def predict(service, batch: list[dict]) -> list[tuple[int, str, object]]:
    """(status, content type, decoded body) per request, read back as TorchServe's response encoder does."""
    bodies = []
    entry_point = service._entry_point
    service._entry_point = lambda data, context: bodies.extend(entry_point(data, context)) or bodies
    try:
        service.predict(batch)
    finally:
        service._entry_point = entry_point
    answers = []
    for index, body in enumerate(bodies):
        status, _ = service.context.get_response_status(index)
        kind = service.context.get_response_content_type(index)
        answers.append((status, kind, json.loads(body) if kind == "application/json" else body.decode()))
    return answers


def test_each_request_of_a_batch_gets_its_own_status_and_content_type(service):
    answers = predict(
        service,
        [
            request(GOOD, {"Content-Type": "application/json"}),
            request(b"{", {"Content-Type": "application/json"}),
            request(b"text\nShares fell.\n", {"Content-Type": "text/csv"}),
            request(b"x", {"Content-Type": "image/png"}),
        ],
    )

    assert [(status, kind) for status, kind, _ in answers] == [
        (200, "application/json"),
        (400, "application/json"),
        (200, "text/csv"),
        (415, "application/json"),
    ]


@pytest.mark.parametrize("name", ["content-type", "CONTENT-TYPE", "Content-type"])
def test_header_names_are_matched_in_any_case(service, name):
    [(status, kind, body)] = predict(
        service, [request(b"text\nShares fell.\nThe striker scored.\n", {name: "text/csv", "ACCEPT": "text/csv"})]
    )

    assert (status, kind) == (200, "text/csv")
    assert len(body.splitlines()) == 2  # two rows, not the whole body read as one text


def test_json_with_a_charset_reads_as_plain_json_does(service):
    """The worker hands raw bytes for every Content-Type, so `; charset=utf-8` changes nothing."""
    plain, with_charset = predict(
        service,
        [
            request(b'"Shares fell."', {"Content-Type": "application/json"}),
            request(b'"Shares fell."', {"Content-Type": "application/json; charset=utf-8"}),
        ],
    )

    assert plain[0] == with_charset[0] == 200
    assert plain[2]["label"] == with_charset[2]["label"]


def test_a_form_post_classifies_its_only_field(service):
    form = request(b"Shares fell 5% today", {"Content-Type": "application/x-www-form-urlencoded"}, name="text")

    [(status, _, body)] = predict(service, [form])

    assert status == 200
    assert set(body) >= {"label", "score"}


def test_a_request_the_adapter_cannot_read_is_its_own_500_and_the_batch_is_answered(service):
    unreadable = {"requestId": b"id", "headers": [], "parameters": []}  # no body parameter at all

    answers = predict(service, [request(GOOD, {"Content-Type": "application/json"}), unreadable])

    assert answers[0][0] == 200
    assert answers[1][0] in (400, 500)


def test_a_lone_surrogate_in_a_key_is_a_400_and_its_neighbours_are_answered(service):
    """Reported: the unknown-key message quoted the key, encoding it raised, and two good neighbours got 503."""
    answers = predict(
        service,
        [
            request(GOOD, {"Content-Type": "application/json"}),
            request(b'{"text":"ok","\\ud800":1}', {"Content-Type": "application/json"}),
            request(b'{"text":"a\\ud800b"}', {"Content-Type": "application/json"}),
            request(GOOD, {"Content-Type": "application/json"}),
        ],
    )

    assert [status for status, _, _ in answers] == [200, 400, 400, 200]


def grpc_request(name: str, content_type: str, body: bytes) -> dict:
    """A request from one of the frontend's gRPC services: no headers, one parameter per input."""
    frame = field(b"id") + struct.pack("!i", -1)
    frame += field(name.encode()) + field(content_type.encode()) + field(body) + struct.pack("!i", -1)
    from ts.protocol.otf_message_handler import _retrieve_request

    return _retrieve_request(Frames(frame))


def test_grpc_requests_are_told_apart_and_each_answered_in_its_protocol(service):
    import base64

    def oip(text: str) -> bytes:
        tensor = {"name": "t", "datatype": "BYTES", "shape": [1], "data": [text]}
        return json.dumps({"id": "g", "model_name": "tiny", "inputs": [tensor]}).encode()

    plain, encoded = "Shares fell.", base64.b64encode(b"Shares fell.").decode()
    answers = predict(
        service,
        [
            grpc_request("body", "application/json", oip(encoded)),  # OIP gRPC ModelInfer: BYTES in base64
            grpc_request("body", "application/json", oip(plain)),  # ... so plain text is not its input
            grpc_request("body", "application/json", b"{"),  # the same service, a body it could never send
            grpc_request("data", "", GOOD),  # gRPC Predictions
            request(oip(plain), {"Content-Type": "application/json"}),  # OIP over REST: BYTES are text
        ],
    )

    (_, _, oip_answer), (_, _, not_base64), (_, _, broken), (_, _, predictions), (status, _, rest) = answers
    assert oip_answer["id"] == "g"
    assert [o["name"] for o in oip_answer["outputs"]] == ["label", "label_id", "score"]
    assert "not base64" in not_base64["outputs"][0]["data"][0]
    assert {"id", "model_name", "model_version"} <= set(broken)
    assert broken["outputs"][0]["name"] == "error"
    assert predictions[0]["label"] in ("business", "sport", "tech")
    assert status == 200
    assert [o["name"] for o in rest["outputs"]] == ["label", "label_id", "score"]


def explained(answer) -> bool:
    status, kind, body = answer
    return status == 200 and kind == "application/json" and "words" in body[0]  # GOOD sends a list of texts


def test_each_request_is_explained_or_classified_by_its_own_explain_property(service):
    """The frontend writes `explain` for every request of /explanations (True) and /predictions (False); a batch
    mixing both answers each as it asked, whatever the first request asked."""
    predict_first = [
        request(GOOD, {"Content-Type": "application/json", "explain": "False"}),
        request(GOOD, {"Content-Type": "application/json", "explain": "True"}),
    ]
    explain_first = list(reversed(predict_first))

    assert [explained(answer) for answer in predict(service, predict_first)] == [False, True]
    assert [explained(answer) for answer in predict(service, explain_first)] == [True, False]


def test_a_clients_explain_header_in_another_case_does_not_turn_a_prediction_into_an_explanation(service):
    """TorchServe keeps header names as sent, so `Explain: True` from a client sits next to the frontend's own
    `explain: False`: only the frontend's counts."""
    headers = {"Content-Type": "application/json", "explain": "False", "Explain": "True"}  # the client's last

    [answer] = predict(service, [request(GOOD, headers)])

    assert answer[0] == 200
    assert not explained(answer)


@pytest.mark.parametrize(
    ("attributes", "asked"), [("explain=true", True), ("trace=1; Explain = TRUE", True), ("explain", False)]
)
def test_without_the_frontends_property_sagemaker_custom_attributes_ask(service, attributes, asked):
    """SageMaker's /invocations route sets no `explain` property; its one free-form header does."""
    headers = {"Content-Type": "application/json", "X-Amzn-SageMaker-Custom-Attributes": attributes}

    [answer] = predict(service, [request(GOOD, headers)])

    assert explained(answer) is asked


def test_torchserves_per_batch_prediction_time_line_is_dropped_and_our_metrics_still_flow(service, caplog):
    """TorchServe's worker logs `PredictionTime` once per batch (stdout, parsed again by the frontend); the handler
    filters that line out of TorchServe's metrics logger, whose other lines carry our metrics to /metrics."""
    import logging

    metrics_logger = "ts.metrics.caching_metric"
    with caplog.at_level(logging.INFO, logger=metrics_logger):
        assert predict(service, [request(GOOD, {"Content-Type": "application/json"})])[0][0] == 200
        service.context.metrics.add_counter("bert_batches_total", 1)
    lines = [record.getMessage() for record in caplog.records if record.name == metrics_logger]
    assert not any(line.startswith("[METRICS]PredictionTime.") for line in lines)
    assert any(line.startswith("[METRICS]bert_batches_total.") for line in lines)


def test_only_a_process_torchserve_started_as_its_worker_pins_cores(monkeypatch):
    """The handler loaded here (a test, a notebook) must leave this process's cores alone."""
    import sys

    import torchserve_handler

    assert not torchserve_handler._in_torchserve_worker()
    monkeypatch.setattr(sys.modules["__main__"], "__file__", "/venv/site-packages/ts/model_service_worker.py")
    assert torchserve_handler._in_torchserve_worker()
