"""KServe v1, Open Inference Protocol (REST and gRPC) and TorchServe gRPC against the real TorchServe, through
clients we did not write (tritonclient, the KServe SDK, stubs generated from TorchServe's own protos), and one
TorchServe batch mixing all of them, valid and invalid, each answered in its own protocol."""

from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
import requests
import tritonclient.http as triton
from tritonclient.utils import InferenceServerException

from tools.grpc_stubs import load_stubs
from tools.manage import ManagementClient
from tools.server import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KSERVE_PYTHON = ROOT / "build" / "kserve-venv" / "bin" / "python"
TEXTS = ["Shares fell after the profit warning.", "The striker scored twice in the second half."]
LABELS = {"business", "sport", "tech"}
OUTPUTS = ("label", "label_id", "score", "scores")


@pytest.fixture(scope="module")
def stubs():
    return load_stubs()


@pytest.fixture(scope="module")
def channel(server):
    with grpc.insecure_channel(f"127.0.0.1:{server.ports['grpc_inference_port']}") as opened:
        yield opened


def native(server, texts=TEXTS, model="tiny") -> list[dict]:
    return requests.post(f"{server.inference_url}/predictions/{model}", json={"data": texts}, timeout=60).json()


def same_results(actual: list[dict], expected: list[dict]) -> None:
    """Same labels; scores to 1e-4 (batched with other requests, a text is padded differently)."""
    assert [r["label_id"] for r in actual] == [r["label_id"] for r in expected]
    assert [r["score"] for r in actual] == pytest.approx([r["score"] for r in expected], abs=1e-4)


def bytes_tensor(texts, shape=None) -> dict:
    return {"name": "text", "datatype": "BYTES", "shape": shape or [len(texts)], "data": texts}


# --- KServe v1 -----------------------------------------------------------------------------------------------


def v1(server, body, model="tiny"):
    return requests.post(f"{server.inference_url}/v1/models/{model}:predict", json=body, timeout=60)


def test_kserve_v1_predict_answers_one_prediction_per_instance(server):
    response = v1(server, {"instances": [TEXTS[0], {"text": TEXTS[1]}]})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    same_results(predictions, native(server))
    assert set(predictions[0]) == {"label", "label_id", "score", "truncated"}


def test_kserve_v1_error_is_a_kserve_error_object_with_our_status(server):
    response = v1(server, {"instances": [TEXTS[0], 42]})
    assert response.status_code == 400
    assert response.json() == {
        "error": "instances[1] must be a string, an object with one string field 'text', 'data' or 'inputs', or a "
        "text pair object ('text' and 'text_pair'), got a number"
    }


# --- Open Inference Protocol over REST -----------------------------------------------------------------------


def v2(server, body, model="tiny", **kwargs):
    return requests.post(f"{server.inference_url}/v2/models/{model}/infer", json=body, timeout=60, **kwargs)


def test_oip_infer_answers_typed_output_tensors_and_echoes_the_id(server):
    body = {"id": "req-7", "inputs": [bytes_tensor([TEXTS], [1, 2])], "outputs": [{"name": n} for n in OUTPUTS]}
    response = v2(server, body)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["model_name"], answer["model_version"], answer["id"]) == ("tiny", "1.0", "req-7")
    tensors = {out["name"]: out for out in answer["outputs"]}
    assert {name: (t["datatype"], t["shape"]) for name, t in tensors.items()} == {
        "label": ("BYTES", [2]),
        "label_id": ("INT64", [2]),
        "score": ("FP32", [2]),
        "scores": ("FP32", [2, 3]),
    }
    expected = native(server)
    assert tensors["label_id"]["data"] == [r["label_id"] for r in expected]
    assert set(tensors["label"]["data"]) <= LABELS
    assert max(tensors["scores"]["data"][:3]) == pytest.approx(expected[0]["score"], abs=1e-4)


def test_oip_single_string_data_as_kserve_samples_send_it(server):
    response = v2(server, {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": TEXTS[0]}]})
    assert response.status_code == 200
    assert [out["shape"] for out in response.json()["outputs"]] == [[1], [1], [1]]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1], "data": [0.5]}]}, 400, "must be BYTES"),
        ({"inputs": [bytes_tensor(TEXTS, [3])]}, 400, "shape"),
        ({"inputs": [bytes_tensor(["x"] * 65)]}, 413, "more than 64 texts"),
    ],
)
def test_oip_errors_are_oip_error_objects_with_our_status(server, body, status, message):
    response = v2(server, body)
    assert response.status_code == status
    assert list(response.json()) == ["error"]
    assert message in response.json()["error"]


def test_oip_routes_torchserve_answers_itself_or_not_at_all(server):
    """docs/protocols.md: what TorchServe 0.12 does with the calls OIP clients make besides infer."""
    get = lambda path: requests.get(server.inference_url + path, timeout=10)  # noqa: E731
    assert get("/v2/health/live").json() == {"live": True}
    assert get("/v2/health/ready").json() == {"ready": True}  # hard-coded in TorchServe: never false
    assert get("/v2/models/tiny").status_code == 404
    assert get("/v2/models/tiny/ready").status_code == 404
    assert requests.post(server.inference_url + "/v2/models/tiny/versions/1.0/infer", timeout=10).status_code == 501
    kserve_v1_ready = requests.get(f"{server.management_url}/v1/models/tiny", timeout=10)
    assert kserve_v1_ready.json() == {"name": "tiny", "ready": True}  # on the management port


# --- clients we did not write: tritonclient and the KServe SDK -----------------------------------------------


@pytest.fixture(scope="module")
def triton_client(server):
    return triton.InferenceServerClient(server.inference_url.removeprefix("http://"))


@pytest.mark.parametrize("binary", [False, True], ids=["json-tensors", "binary-tensors"])
def test_tritonclient_infer_classifies_several_texts(server, triton_client, binary):
    text_input = triton.InferInput("text", [2], "BYTES")
    text_input.set_data_from_numpy(np.array(TEXTS, dtype=object), binary_data=binary)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("label_id", "score", "scores")]
    result = triton_client.infer("tiny", [text_input], outputs=outputs, request_id="t-1")
    expected = native(server)
    assert result.get_response()["id"] == "t-1"
    assert result.as_numpy("label_id").tolist() == [r["label_id"] for r in expected]
    assert result.as_numpy("score").tolist() == pytest.approx([r["score"] for r in expected], abs=1e-4)
    assert result.as_numpy("scores").shape == (2, 3)


def test_tritonclient_default_call_asks_binary_outputs_and_gets_them(triton_client):
    text_input = triton.InferInput("text", [2], "BYTES")
    text_input.set_data_from_numpy(np.array(TEXTS, dtype=object))
    result = triton_client.infer("tiny", [text_input])  # no outputs: tritonclient sets binary_data_output
    assert all("binary_data_size" in out["parameters"] for out in result.get_response()["outputs"])
    assert {label.decode() for label in result.as_numpy("label")} <= LABELS


def test_tritonclient_raises_our_message_and_status(triton_client):
    number_input = triton.InferInput("text", [1], "INT64")
    number_input.set_data_from_numpy(np.array([1], dtype=np.int64), binary_data=False)
    with pytest.raises(InferenceServerException) as raised:
        triton_client.infer("tiny", [number_input])
    assert raised.value.status() == "400"
    assert "datatype must be BYTES" in raised.value.message()


def test_kserve_sdk_rest_client_over_v1_and_v2(server):
    if not KSERVE_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("build/kserve-venv is missing: CI must run `make kserve-validate` before `make test`")
        pytest.skip("no build/kserve-venv: run `make kserve-validate`")
    script = ROOT / "tests" / "integration" / "kserve_sdk_client.py"
    run = subprocess.run(
        [str(KSERVE_PYTHON), str(script), server.inference_url, "tiny"], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    outcome = json.loads(run.stdout)
    expected = native(server)
    same_results(outcome["v1"]["predictions"], expected)
    assert outcome["v2"]["id"] == "sdk-1"
    assert outcome["v2"]["outputs"]["label_id"] == {
        "shape": [2],
        "datatype": "INT64",
        "data": [r["label_id"] for r in expected],
    }
    assert outcome["v1_error"]["status"] == 400
    assert "instances[0] must be a string" in outcome["v1_error"]["message"]


# --- gRPC: TorchServe's Predictions and its OIP ModelInfer ---------------------------------------------------


def grpc_predict(stubs, channel, body: bytes, model="tiny") -> bytes:
    stub = stubs.inference_pb2_grpc.InferenceAPIsServiceStub(channel)
    request = stubs.inference_pb2.PredictionsRequest(model_name=model, input={"data": body})
    return stub.Predictions(request, timeout=60).prediction  # a dead worker must fail the test, not hang it


def model_infer(stubs, channel, texts, datatype="BYTES", model="tiny", request_id="g-1"):
    pb = stubs.open_inference_grpc_pb2
    contents = pb.InferTensorContents(bytes_contents=[t.encode() for t in texts])
    if datatype != "BYTES":
        contents = pb.InferTensorContents(fp32_contents=[0.5] * len(texts))
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="text", datatype=datatype, shape=[len(texts)], contents=contents
    )
    request = pb.ModelInferRequest(model_name=model, id=request_id, inputs=[tensor])
    return stubs.open_inference_grpc_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=60)


def test_grpc_predictions_classifies_several_texts(server, stubs, channel):
    same_results(json.loads(grpc_predict(stubs, channel, json.dumps({"data": TEXTS}).encode())), native(server))


def test_grpc_predictions_error_is_status_ok_with_our_error_object(stubs, channel):
    # TorchServe's GRPCJob ignores a request's status (only a whole failed batch becomes a gRPC error).
    answer = json.loads(grpc_predict(stubs, channel, b'{"data": ["a", 3]}'))
    assert answer == {
        "code": 400,
        "type": "InvalidInput",
        "message": "data[1] must be a string or a text pair object, got a number",
    }


def test_grpc_model_infer_classifies_several_texts(server, stubs, channel):
    response = model_infer(stubs, channel, [*TEXTS, "Ünïcode survives base64"])
    assert (response.id, response.model_name, response.model_version) == ("g-1", "tiny", "1.0")
    tensors = {out.name: out for out in response.outputs}
    assert list(tensors["label_id"].contents.int64_contents)[:2] == [r["label_id"] for r in native(server)]
    # TorchServe writes each BYTES element as its JSON literal: quoted.
    assert {json.loads(label) for label in tensors["label"].contents.bytes_contents} <= LABELS
    assert list(tensors["score"].shape) == [3]


def test_grpc_model_infer_error_is_an_error_tensor(stubs, channel):
    response = model_infer(stubs, channel, ["x"], datatype="FP32", request_id="bad-1")
    assert response.id == "bad-1"
    [error] = response.outputs
    assert error.name == "error"
    assert json.loads(error.contents.bytes_contents[0]).startswith("400 InvalidInput: input datatype must be BYTES")


# --- one TorchServe batch, every protocol ---------------------------------------------------------------------

MIXED = "mixed"
MIXED_BATCH = 10


@pytest.fixture(scope="module")
def mixed_model(server):
    """`tiny.mar` registered again with a 10-request batch and a 20 s delay: 10 requests sent at once share one
    batch (it leaves as soon as it is full)."""
    client = ManagementClient(server.management_url)
    client.register("tiny.mar", model_name=MIXED, batch_size=MIXED_BATCH, max_batch_delay=20_000)
    yield MIXED
    client.unregister(MIXED)


def test_one_batch_mixing_every_protocol_answers_each_request_in_its_own(server, stubs, channel, mixed_model):
    url = server.inference_url
    post = lambda path, body: requests.post(url + path, json=body, timeout=60)  # noqa: E731
    calls = {
        "predictions": lambda: post(f"/predictions/{MIXED}", {"data": TEXTS}),
        "predictions-bad": lambda: post(f"/predictions/{MIXED}", {"data": []}),
        "v1": lambda: post(f"/v1/models/{MIXED}:predict", {"instances": TEXTS}),
        "v1-bad": lambda: post(f"/v1/models/{MIXED}:predict", {"instances": [1]}),
        "v2": lambda: post(f"/v2/models/{MIXED}/infer", {"id": "m", "inputs": [bytes_tensor(TEXTS)]}),
        "v2-bad": lambda: post(f"/v2/models/{MIXED}/infer", {"inputs": [bytes_tensor(TEXTS, [5])]}),
        "grpc": lambda: grpc_predict(stubs, channel, json.dumps({"data": TEXTS}).encode(), MIXED),
        "grpc-bad": lambda: grpc_predict(stubs, channel, b"{", MIXED),
        "grpc-oip": lambda: model_infer(stubs, channel, TEXTS, model=MIXED),
        "grpc-oip-bad": lambda: model_infer(stubs, channel, TEXTS, datatype="FP32", model=MIXED),
    }
    assert len(calls) == MIXED_BATCH
    with ThreadPoolExecutor(MIXED_BATCH) as pool:
        futures = {name: pool.submit(call) for name, call in calls.items()}
        answers = {name: future.result(timeout=120) for name, future in futures.items()}

    expected = [r["label_id"] for r in native(server)]
    assert [r["label_id"] for r in answers["predictions"].json()] == expected
    assert (answers["predictions-bad"].status_code, answers["predictions-bad"].json()["type"]) == (400, "InvalidInput")
    assert [r["label_id"] for r in answers["v1"].json()["predictions"]] == expected
    assert (answers["v1-bad"].status_code, list(answers["v1-bad"].json())) == (400, ["error"])
    v2_tensors = {out["name"]: out["data"] for out in answers["v2"].json()["outputs"]}
    assert (answers["v2"].json()["id"], v2_tensors["label_id"]) == ("m", expected)
    assert (answers["v2-bad"].status_code, list(answers["v2-bad"].json())) == (400, ["error"])
    assert [r["label_id"] for r in json.loads(answers["grpc"])] == expected
    assert json.loads(answers["grpc-bad"])["code"] == 400
    oip_tensors = {out.name: list(out.contents.int64_contents) for out in answers["grpc-oip"].outputs}
    assert oip_tensors["label_id"] == expected
    assert [out.name for out in answers["grpc-oip-bad"].outputs] == ["error"]

    # ...and they really were one batch: the handler's per-batch metrics for this model.
    def batch_metrics():
        text = requests.get(f"{server.metrics_url}/metrics", timeout=10).text
        found = {
            name: float(match.group(1))
            for name in ("bert_batches_total", "bert_requests_total", "bert_batch_requests")
            if (match := re.search(rf'^{name}\{{[^}}]*ModelName="{MIXED}"[^}}]*\}} ([0-9.]+)', text, re.MULTILINE))
        }
        return found if len(found) == 3 else None

    assert wait_for(batch_metrics, 30, "the mixed model's batch metrics") == {
        "bert_batches_total": 1,
        "bert_requests_total": MIXED_BATCH,
        "bert_batch_requests": MIXED_BATCH,
    }


def test_grpc_payload_over_the_limit_is_an_error_tensor_and_the_worker_lives(server, stubs, channel):
    """A body TorchServe's gRPC bridge cannot parse back would kill the worker (and its batch): even a 413 raised
    before the body is read comes back as a `ModelInferResponse` with an `error` tensor."""
    big = "word " * 240_000  # 4 x 1.2 MB: under gRPC's 6 MiB, over max_request_bytes once the bridge base64s it
    response = model_infer(stubs, channel, [big] * 4, request_id="big")
    [error] = response.outputs
    assert json.loads(error.contents.bytes_contents[0]).startswith("413 PayloadTooLarge")
    assert len(model_infer(stubs, channel, TEXTS).outputs) == 3  # the same worker answers the next call
