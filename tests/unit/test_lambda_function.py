"""`serverless.lambda_function.lambda_handler` invoked with API Gateway proxy events (REST v1 and HTTP API v2)."""

from __future__ import annotations

import base64
import csv
import io
import json
import logging

import pytest

from bert_classifier.messages import Request
from bert_classifier.service import InferenceService
from bert_classifier.settings import read_settings
from serverless import lambda_function
from serverless.lambda_function import lambda_handler

pytestmark = pytest.mark.unit

SECRET_TEXT = "Confidential: the merger closes on Friday."
TEXTS = ["Shares rose after profits beat forecasts.", "The striker scored twice.", "A new chip, faster."]


class LambdaContext:
    aws_request_id = "7f7b2b6e-5a1d-4c8e-9d1e-0a2b3c4d5e6f"
    function_name = "bert-classifier"


def rest_api_event(body: str | None, headers: dict | None, method: str = "POST", base64_encoded=False) -> dict:
    """An API Gateway REST API (v1) proxy integration event, as AWS documents it."""
    multi = {name: [value] for name, value in headers.items()} if headers else None
    return {
        "resource": "/classify",
        "path": "/classify",
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "2gxmpl",
            "resourcePath": "/classify",
            "httpMethod": method,
            "requestTime": "22/Nov/2026:05:00:00 +0000",
            "path": "/prod/classify",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "70ixmpl4fl",
            "requestTimeEpoch": 1795323600000,
            "requestId": "e1506d05-8b8c-4c7c-9d2b-0c6a2b5f4e11",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0", "accessKey": None},
            "domainName": "70ixmpl4fl.execute-api.us-east-2.amazonaws.com",
            "apiId": "70ixmpl4fl",
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def http_api_event(body: str | None, headers: dict, method: str = "POST", base64_encoded=False) -> dict:
    """An API Gateway HTTP API (payload format 2.0) event: lower-case headers, method under requestContext.http."""
    return {
        "version": "2.0",
        "routeKey": f"{method} /classify",
        "rawPath": "/classify",
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()}
        | {"host": "r3pmxmplak.execute-api.us-east-2.amazonaws.com", "x-forwarded-proto": "https"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "r3pmxmplak",
            "domainName": "r3pmxmplak.execute-api.us-east-2.amazonaws.com",
            "domainPrefix": "r3pmxmplak",
            "http": {
                "method": method,
                "path": "/classify",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": f"{method} /classify",
            "stage": "$default",
            "time": "22/Nov/2026:05:00:00 +0000",
            "timeEpoch": 1795323600000,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


@pytest.fixture(scope="module")
def loaded(tiny_bert_dir) -> InferenceService:
    service = InferenceService.load(tiny_bert_dir, read_settings({"explanations": "shared"}, env={}))
    service.warm_up()
    return service


@pytest.fixture
def warm(monkeypatch, loaded) -> InferenceService:
    """A container whose model is already loaded (what every request after the first sees)."""
    monkeypatch.setattr(lambda_function, "_service", loaded)
    return loaded


@pytest.fixture
def cold(monkeypatch, tiny_bert_dir):
    """A fresh container: no model yet; MODEL_DIR points at the tiny model; loads are counted."""
    monkeypatch.setattr(lambda_function, "_service", None)
    monkeypatch.setenv("MODEL_DIR", str(tiny_bert_dir))
    loads = []
    original = InferenceService.load.__func__

    def counting_load(cls, *args, **kwargs):
        loads.append(args[0])
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(InferenceService, "load", classmethod(counting_load))
    return loads


ORIGIN = "https://news.example.com"


@pytest.fixture(autouse=True)
def cors_origin(monkeypatch):
    """The function as deployed with one allowed origin (`CORS_ALLOW_ORIGIN`)."""
    monkeypatch.setenv(lambda_function.CORS_ORIGIN_VARIABLE, ORIGIN)


def assert_cors_and_type(response: dict, content_type: str) -> None:
    assert response["headers"]["Content-Type"] == content_type
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert response["isBase64Encoded"] is False


def test_rest_api_json_request_gets_the_cores_results_with_cors(warm):
    body = json.dumps({"data": TEXTS})
    response = lambda_handler(rest_api_event(body, {"Content-Type": "application/json"}), LambdaContext())
    assert response["statusCode"] == 200
    assert_cors_and_type(response, "application/json")
    assert json.loads(response["body"]) == json.loads(warm.handle(Request(body, "application/json")).body)


def test_http_api_base64_csv_body_gives_one_csv_line_per_input_line(warm):
    rows = io.StringIO()
    csv.writer(rows, lineterminator="\n").writerows([text] for text in TEXTS)  # quotes "A new chip, faster."
    body = base64.b64encode(rows.getvalue().encode()).decode()
    event = http_api_event(body, {"Content-Type": "text/csv", "Accept": "text/csv"}, base64_encoded=True)
    response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 200
    assert_cors_and_type(response, "text/csv")
    assert len(response["body"].splitlines()) == len(TEXTS)


def test_headers_are_matched_in_any_case(warm):
    headers = {"CONTENT-TYPE": "application/jsonlines", "aCCePt": "application/json"}
    response = lambda_handler(rest_api_event('"one"\n"two"\n', headers), LambdaContext())
    assert response["statusCode"] == 200
    assert_cors_and_type(response, "application/json")
    assert len(json.loads(response["body"])) == 2


def test_rest_api_event_without_headers_is_sniffed_as_json(warm):
    response = lambda_handler(rest_api_event('{"text": "one"}', None), LambdaContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["label"] in warm.classifier.labels


@pytest.mark.parametrize(
    ("event", "status", "error_type"),
    [
        (rest_api_event('{"text": ', {"Content-Type": "application/json"}), 400, "InvalidInput"),
        (http_api_event("PNG", {"Content-Type": "image/png"}), 415, "UnsupportedMediaType"),
        (http_api_event('{"text": "x"}', {"Content-Type": "application/json", "Accept": "image/png"}), 406,
         "NotAcceptable"),
        (http_api_event("%%% not base64 %%%", {"Content-Type": "text/plain"}, base64_encoded=True), 400,
         "InvalidInput"),
        (rest_api_event(None, {"Content-Type": "application/json"}), 400, "InvalidInput"),
        (rest_api_event(json.dumps({"data": ["x"] * 65}), {"Content-Type": "application/json"}), 413,
         "PayloadTooLarge"),
    ],
)  # fmt: skip
def test_bad_requests_get_4xx_with_the_cores_json_error_and_cors(warm, event, status, error_type):
    response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == status
    assert_cors_and_type(response, "application/json")
    error = json.loads(response["body"])
    assert (error["code"], error["type"]) == (status, error_type)


@pytest.mark.parametrize("make_event", [rest_api_event, http_api_event])
def test_cors_preflight_is_answered_without_the_model(monkeypatch, make_event):
    monkeypatch.setattr(lambda_function, "_service", None)
    monkeypatch.setenv("MODEL_DIR", "/nonexistent")
    response = lambda_handler(make_event(None, {"Origin": "https://example.com"}, method="OPTIONS"), None)
    assert response["statusCode"] == 204
    assert response["headers"]["Access-Control-Allow-Origin"] == ORIGIN
    assert "POST" in response["headers"]["Access-Control-Allow-Methods"]


@pytest.mark.parametrize("method", ["POST", "OPTIONS"])
def test_without_an_allowed_origin_no_browser_origin_is_allowed(warm, monkeypatch, method):
    monkeypatch.delenv(lambda_function.CORS_ORIGIN_VARIABLE)
    headers = {"Content-Type": "application/json", "Origin": "https://elsewhere.example"}
    response = lambda_handler(http_api_event('{"text": "one"}', headers, method=method), LambdaContext())
    assert response["statusCode"] in (200, 204)
    assert not [name for name in response["headers"] if name.startswith("Access-Control-")]


def test_the_model_loads_once_per_container(cold):
    for _ in range(3):
        event = http_api_event('{"text": "one"}', {"Content-Type": "application/json"})
        assert lambda_handler(event, LambdaContext())["statusCode"] == 200
    assert len(cold) == 1


def test_a_model_that_cannot_load_is_a_logged_500_and_is_retried_next_time(
    cold, monkeypatch, caplog, tmp_path, tiny_bert_dir
):
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "missing"))
    event = rest_api_event(json.dumps({"text": SECRET_TEXT}), {"Content-Type": "application/json"})
    with caplog.at_level(logging.INFO):
        response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 500
    assert_cors_and_type(response, "application/json")
    assert json.loads(response["body"])["type"] == "InternalError"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert LambdaContext.aws_request_id in record.getMessage()
    assert "lambda_function.py" in record.getMessage()  # the stack frames
    assert SECRET_TEXT not in caplog.text

    monkeypatch.setenv("MODEL_DIR", str(tiny_bert_dir))
    assert lambda_handler(event, LambdaContext())["statusCode"] == 200
    assert len(cold) == 2


def test_an_inference_fault_is_a_500_that_never_logs_the_text(warm, monkeypatch, caplog):
    def broken(encoded):
        raise RuntimeError("CUDA error: device-side assert triggered")

    monkeypatch.setattr(warm.classifier, "score", broken)
    event = http_api_event(json.dumps({"text": SECRET_TEXT}), {"Content-Type": "application/json"})
    with caplog.at_level(logging.INFO):
        response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["type"] == "InternalError"
    assert "unexpected RuntimeError in broken" in caplog.text  # the type and the stack frames
    assert "line" in caplog.text
    assert SECRET_TEXT not in caplog.text
    assert SECRET_TEXT not in response["body"]


def test_an_unexpected_adapter_fault_is_logged_by_type_and_frames_never_its_message(warm, monkeypatch, caplog):
    def crash(request):  # an exception message may quote the input
        raise MemoryError(f"out of memory on {request.body}")

    monkeypatch.setattr(warm, "handle", crash)
    event = http_api_event(json.dumps({"text": SECRET_TEXT}), {"Content-Type": "application/json"})
    with caplog.at_level(logging.ERROR):
        response = lambda_handler(event, LambdaContext())
    assert response["statusCode"] == 500
    assert json.loads(response["body"])["message"].startswith("internal server error")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert f"unexpected MemoryError in request {LambdaContext.aws_request_id}" in record.getMessage()
    assert "in crash" in record.getMessage()  # the frame that raised
    assert SECRET_TEXT not in caplog.text


def test_model_dir_defaults_to_the_first_existing_standard_folder(monkeypatch, tmp_path):
    first, second = tmp_path / "opt-ml-model", tmp_path / "var-task-model"
    monkeypatch.setattr(lambda_function, "DEFAULT_MODEL_DIRS", (first, second))
    second.mkdir()
    assert lambda_function._model_dir(None) == second
    first.mkdir()
    assert lambda_function._model_dir(None) == first
    assert lambda_function._model_dir("/models/news") == lambda_function.Path("/models/news")


def test_the_model_config_settings_apply_as_under_torchserve(cold, monkeypatch, tmp_path):
    """Lambda reads the same model-config.yaml as every other front end (it used to read only the environment)."""
    config = tmp_path / "model-config.yaml"
    config.write_text("handler:\n  top_k: 2\n  max_texts_per_request: 1\n")
    monkeypatch.setenv("MODEL_CONFIG", str(config))

    one = lambda_handler(http_api_event('{"text": "one"}', {"Content-Type": "application/json"}), LambdaContext())
    two = lambda_handler(http_api_event('{"data": ["a", "b"]}', {"Content-Type": "application/json"}), LambdaContext())

    assert len(json.loads(one["body"])["scores"]) == 2
    assert two["statusCode"] == 413


def test_the_shipped_model_config_is_found_next_to_the_package():
    assert (
        lambda_function._model_config(None) == lambda_function.Path(__file__).resolve().parents[2] / "model-config.yaml"
    )


def test_explanations_are_off_by_default_a_403_naming_the_setting(cold, monkeypatch):
    monkeypatch.delenv("BERT_CLASSIFIER_EXPLANATIONS", raising=False)
    event = http_api_event(json.dumps({"text": TEXTS[0]}), {"Content-Type": "application/json"})
    event["rawPath"] = "/prod/explanations"

    response = lambda_handler(event, LambdaContext())

    assert response["statusCode"] == 403
    assert "explanations=off" in json.loads(response["body"])["message"]
    assert_cors_and_type(response, "application/json")


@pytest.mark.parametrize("make_event", [rest_api_event, http_api_event])
def test_a_path_ending_in_explanations_gets_the_cores_explanation(warm, make_event):
    event = make_event(json.dumps({"text": TEXTS[0]}), {"Content-Type": "application/json"})
    event["path" if make_event is rest_api_event else "rawPath"] = "/prod/explanations/"

    explained = lambda_handler(event, LambdaContext())
    predicted = lambda_handler(make_event(json.dumps({"text": TEXTS[0]}), {"Content-Type": "application/json"}), None)

    assert explained["statusCode"] == 200
    body = json.loads(explained["body"])
    assert [word["word"] for word in body["words"]] == ["Shares", "rose", "after", "profits", "beat", "forecasts", "."]
    assert body["label"] == json.loads(predicted["body"])["label"]
    assert "words" not in json.loads(predicted["body"])
