"""Script mode (`sagemaker_serving/inference.py`) and the model.tar.gz that ships it (`tools/sagemaker_artifact.py`)."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import subprocess
import sys
import tarfile
import types
from dataclasses import replace
from pathlib import Path

import pytest

from bert_classifier.errors import InternalError, InvalidInput, NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from bert_classifier.messages import Request
from bert_classifier.service import InferenceService
from bert_classifier.settings import read_settings
from sagemaker_serving import inference as inference_module
from sagemaker_serving.inference import input_fn, model_fn, output_fn, predict_fn
from tools.sagemaker_artifact import build_artifact, core_pins, requirements

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Shares rose after profits beat forecasts.", "The striker scored twice.", "A new chip, faster."]


# These tests compare separately loaded services (one in a subprocess) for equal answers: that needs one engine
# and precision, where `auto` would probe at every load and may pick torch bf16 in one and fp32 in another.
PINNED = {
    "BERT_CLASSIFIER_ENGINE": "torch",
    "BERT_CLASSIFIER_PRECISION": "fp32",
    "BERT_CLASSIFIER_EXPLANATIONS": "shared",
}


@pytest.fixture(scope="module", autouse=True)
def pinned_engine():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in PINNED.items():
            patch.setenv(name, value)
        inference_module._settings.cache_clear()
        yield
    inference_module._settings.cache_clear()


@pytest.fixture(scope="module")
def model(tiny_bert_dir):
    return model_fn(str(tiny_bert_dir))


@pytest.fixture(scope="module")
def reference(tiny_bert_dir):
    """The core called directly, as the TorchServe handler calls it."""
    return InferenceService.load(tiny_bert_dir, read_settings({}, env=PINNED))


def test_the_documented_local_debugging_call_answers_like_the_torchserve_path(tiny_bert_dir, reference):
    payload = json.dumps({"data": TEXTS, "parameters": {"top_k": 2}})
    body, content_type = output_fn(
        predict_fn(input_fn(payload, "application/json"), model_fn(str(tiny_bert_dir))), "application/json"
    )
    assert content_type == "application/json"
    assert body == reference.handle(Request(payload, "application/json")).body
    assert [len(result["scores"]) for result in json.loads(body)] == [2, 2, 2]


def test_a_single_text_gets_a_single_object(model):
    body, _ = output_fn(predict_fn(input_fn(b'{"text": "one"}', "application/json"), model), "application/json")
    assert set(json.loads(body)) == {"label", "label_id", "score", "truncated"}


def test_csv_in_and_out_gives_one_line_per_input_line(model, reference):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([text] for text in TEXTS)
    body, content_type = output_fn(predict_fn(input_fn(buffer.getvalue(), "text/csv"), model), "text/csv")
    assert content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(body.decode())))
    expected = json.loads(reference.handle(Request({"data": TEXTS}, "application/json")).body)
    assert [(row[0], float(row[2])) for row in rows] == [(e["label"], e["score"]) for e in expected]


def test_accept_picks_the_format_and_any_keeps_the_requests_own(model):
    parsed = input_fn(b'"one"\n"two"\n', "application/jsonlines")
    body, content_type = output_fn(predict_fn(parsed, model), "*/*")
    assert content_type == "application/jsonlines"
    assert len(body.decode().splitlines()) == 2
    _, content_type = output_fn(predict_fn(parsed, model), "text/csv;q=0.5, application/json")
    assert content_type == "application/json"


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"\x89PNG", "image/png", UnsupportedMediaType),
        (b'{"text": ', "application/json", InvalidInput),
        (json.dumps({"data": ["x"] * 65}).encode(), "application/json", PayloadTooLarge),
    ],
)
def test_input_fn_raises_the_cores_client_errors(body, content_type, error):
    with pytest.raises(error):
        input_fn(body, content_type)


def test_output_fn_refuses_an_accept_it_cannot_produce(model):
    with pytest.raises(NotAcceptable):
        output_fn(predict_fn(input_fn(b'{"text": "x"}', "application/json"), model), "image/png")


PROTOCOL_REQUESTS = {
    "native": {"data": TEXTS, "parameters": {"top_k": 2}},
    "kserve-v1": {"instances": [TEXTS[0], {"text": TEXTS[1]}]},
    "open-inference": {
        "id": "request-7",
        "inputs": [{"name": "text", "datatype": "BYTES", "shape": [2], "data": TEXTS[:2]}],
        "outputs": [{"name": "label"}, {"name": "score"}],
    },
}


@pytest.mark.parametrize("protocol", list(PROTOCOL_REQUESTS))
def test_each_protocol_is_answered_in_its_own_shape_as_the_torchserve_path_answers(model, reference, protocol):
    payload = json.dumps(PROTOCOL_REQUESTS[protocol])

    body, content_type = output_fn(predict_fn(input_fn(payload, "application/json"), model), "application/json")

    expected = reference.handle(Request(payload, "application/json"))
    assert (body, content_type) == (expected.body, expected.content_type)
    answer = json.loads(body)
    if protocol == "kserve-v1":
        assert [set(p) for p in answer["predictions"]] == [{"label", "label_id", "score", "truncated"}] * 2
    elif protocol == "open-inference":
        assert answer["id"] == "request-7"
        assert [(o["name"], o["shape"]) for o in answer["outputs"]] == [("label", [2]), ("score", [2])]


def test_an_oip_answer_that_needs_a_response_header_is_refused_not_sent_without_it(model):
    request = {"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1], "data": ["one"]}],
               "outputs": [{"name": "label", "parameters": {"binary_data": True}}]}  # fmt: skip
    parsed = input_fn(json.dumps(request), "application/json")

    with pytest.raises(NotAcceptable, match="Inference-Header-Content-Length"):
        output_fn(predict_fn(parsed, model), "application/json")


@pytest.fixture
def aws_toolkit(monkeypatch):
    """A stand-in for `sagemaker_inference.errors` with the toolkit's exception signature."""

    class GenericInferenceToolkitError(Exception):
        def __init__(self, status_code, message=None, phrase=None):
            super().__init__(status_code, message, phrase)
            self.status_code, self.message, self.phrase = status_code, message, phrase

    package = types.ModuleType("sagemaker_inference")
    errors = types.ModuleType("sagemaker_inference.errors")
    errors.GenericInferenceToolkitError = GenericInferenceToolkitError
    package.errors = errors
    monkeypatch.setitem(sys.modules, "sagemaker_inference", package)
    monkeypatch.setitem(sys.modules, "sagemaker_inference.errors", errors)
    return GenericInferenceToolkitError


def test_inside_the_aws_container_client_errors_carry_their_status_to_the_toolkit(aws_toolkit, model):
    with pytest.raises(aws_toolkit) as unsupported:
        input_fn(b"x", "image/png")
    assert (unsupported.value.status_code, unsupported.value.phrase) == (415, "Unsupported Media Type")
    assert json.loads(unsupported.value.message)["type"] == "UnsupportedMediaType"

    with pytest.raises(aws_toolkit) as not_acceptable:
        output_fn(predict_fn(input_fn(b'{"text": "x"}', "application/json"), model), "image/png")
    assert not_acceptable.value.status_code == 406


def test_a_fault_in_predict_fn_is_logged_by_type_and_frames_never_its_message(model, monkeypatch, caplog):
    secret = "Confidential merger talks between two banks."

    def broken(parsed):  # an exception message may quote the input
        raise RuntimeError(f"cannot classify {parsed.texts[0]}")

    monkeypatch.setattr(model, "predict", broken)
    with caplog.at_level(logging.ERROR), pytest.raises(InternalError):
        predict_fn(input_fn(json.dumps({"text": secret}).encode(), "application/json"), model)
    assert "unexpected RuntimeError in predict_fn" in caplog.text
    assert "in broken" in caplog.text  # the frame that raised
    assert secret not in caplog.text


def test_inside_the_aws_container_errors_have_the_shape_of_the_requests_protocol(aws_toolkit, model):
    tensor = {"name": "text", "datatype": "BYTES", "shape": [1], "data": [7]}
    with pytest.raises(aws_toolkit) as bad_tensor:
        input_fn(json.dumps({"inputs": [tensor]}), "application/json")
    assert bad_tensor.value.status_code == 400
    assert set(json.loads(bad_tensor.value.message)) == {"error"}

    parsed = input_fn(json.dumps({"instances": ["one"]}), "application/json")
    with pytest.raises(aws_toolkit) as not_acceptable:
        output_fn(predict_fn(parsed, model), "text/csv")
    assert not_acceptable.value.status_code == 406
    assert set(json.loads(not_acceptable.value.message)) == {"error"}


@pytest.mark.parametrize(
    ("gpu_id", "cuda", "expected"),
    [(1, True, 1), ("0", True, "0"), (None, True, None), ("absent", True, 0), ("absent", False, None)],
    ids=["server-gpu-1", "server-gpu-0", "server-cpu", "no-context-with-cuda", "no-context-without-cuda"],
)
def test_model_fn_hands_the_model_servers_gpu_to_the_service(monkeypatch, gpu_id, cuda, expected):
    """There is no GPU here, so a stand-in for `start_service` records the GPU `model_fn` asks for; the GPU
    itself is chosen by `select_device` (tests/unit/test_device.py). "absent": no context (local debugging)."""
    import torch

    from sagemaker_serving import inference

    asked = {}
    monkeypatch.setattr(inference, "start_service", lambda *args, **kwargs: asked.update(kwargs))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    context = None if gpu_id == "absent" else types.SimpleNamespace(system_properties={"gpu_id": gpu_id})
    model_fn("/opt/ml/model", context)
    assert asked["gpu_id"] == expected


def test_requirements_pin_the_cores_packages_from_pyproject_but_not_torch():
    lines = requirements().splitlines()
    assert [line.split("==")[0] for line in lines] == [
        "transformers", "tokenizers", "safetensors", "PyYAML", "captum", "matplotlib",
    ]  # fmt: skip
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert all(f'"{line}"' in pyproject for line in lines)
    assert [pin.split("==")[0] for pin in core_pins()] == ["torch", *(line.split("==")[0] for line in lines)]


def test_core_pins_follow_the_one_list_in_pyproject(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["torch==2.0", "pyyaml==6.0", "requests==2"]\n'
        '[tool.bert-torchserve]\ncore-packages = ["torch", "PyYAML"]\n'
    )
    assert core_pins(pyproject) == ["torch==2.0", "pyyaml==6.0"]
    assert requirements(pyproject) == "pyyaml==6.0\n"
    pyproject.write_text(pyproject.read_text().replace('"PyYAML"', '"PyYAML", "safetensors"'))
    with pytest.raises(ValueError, match="does not pin safetensors"):
        core_pins(pyproject)


@pytest.fixture(scope="module")
def extracted_artifact(tiny_bert_dir, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("artifact")
    output = build_artifact(tiny_bert_dir, folder / "model.tar.gz")
    with tarfile.open(output) as archive:
        members = {member.name: member for member in archive.getmembers()}
        archive.extractall(folder / "opt-ml-model", filter="data")
    assert all(member.uid == 0 and member.mode in (0o644, 0o755) for member in members.values())
    assert not [name for name in members if "__pycache__" in name]
    return folder / "opt-ml-model"


def test_artifact_has_the_model_at_the_root_and_script_mode_code_in_code(extracted_artifact, tiny_bert_dir):
    assert sorted(path.name for path in extracted_artifact.iterdir() if path.is_file()) == sorted(
        path.name for path in tiny_bert_dir.iterdir()
    )
    code = extracted_artifact / "code"
    assert (code / "inference.py").read_bytes() == (ROOT / "sagemaker_serving" / "inference.py").read_bytes()
    assert (code / "bert_classifier" / "service.py").is_file()
    assert (code / "model-config.yaml").is_file()
    assert (code / "requirements.txt").read_text() == requirements()


CONTAINER_CALL = """
import json, sys
import bert_classifier, inference
assert bert_classifier.__file__.startswith(sys.argv[1]), bert_classifier.__file__
payload = json.dumps({"data": ["one text", "another text"]})
body, content_type = inference.output_fn(
    inference.predict_fn(inference.input_fn(payload, "application/json"), inference.model_fn(sys.argv[2])),
    "application/json")
print(content_type, body.decode())
"""


def test_the_artifacts_code_runs_on_its_own_like_in_an_aws_container(extracted_artifact, reference):
    """Only code/ on the path (as the toolkit sets it up): the archive must not need this repository."""
    code = extracted_artifact / "code"
    env = {**os.environ, "PYTHONPATH": str(code)}
    result = subprocess.run(
        [sys.executable, "-c", CONTAINER_CALL, str(code), str(extracted_artifact)],
        cwd=extracted_artifact.parent, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    content_type, body = result.stdout.strip().split(" ", 1)
    assert content_type == "application/json"
    expected = reference.handle(Request({"data": ["one text", "another text"]}, "application/json")).body
    assert json.loads(body) == json.loads(expected)


class RequestProperties:
    """The model server's view of one request's headers (TorchServe's `RequestProcessor`)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def get_request_properties(self) -> dict[str, str]:
        return self.headers


def toolkit_context(headers: dict[str, str]):
    return types.SimpleNamespace(request_processor=[RequestProperties(headers)])


def test_custom_attributes_asking_to_explain_get_an_explanation_per_text(model):
    context = toolkit_context({"X-Amzn-SageMaker-Custom-Attributes": "explain=true"})
    data = input_fn(json.dumps({"data": TEXTS[:2]}).encode(), "application/json")

    body, content_type = output_fn(predict_fn(data, model, context), "application/json")
    plain, _ = output_fn(predict_fn(data, model, toolkit_context({})), "application/json")

    assert content_type == "application/json"
    assert [result["words"][0]["word"] for result in json.loads(body)] == ["Shares", "The"]
    assert all("words" not in result for result in json.loads(plain))


def test_with_explanations_off_custom_attributes_get_a_403_naming_the_setting(model, aws_toolkit):
    off = InferenceService(model.classifier, replace(model.settings, explanations="off"), model.model)
    context = toolkit_context({"X-Amzn-SageMaker-Custom-Attributes": "explain=true"})
    data = input_fn(json.dumps({"text": TEXTS[0]}).encode(), "application/json")

    with pytest.raises(aws_toolkit) as refused:
        predict_fn(data, off, context)
    assert (refused.value.status_code, refused.value.phrase) == (403, "Forbidden")
    assert "explanations=off" in json.loads(refused.value.message)["message"]
    assert predict_fn(data, off, toolkit_context({})).results[0]["label"]


def test_an_explanation_is_never_csv_and_its_limits_carry_their_status(model):
    context = toolkit_context({"x-amzn-sagemaker-custom-attributes": "explain=true"})
    rows = input_fn("\n".join(TEXTS[:2]) + "\n", "text/csv")

    with pytest.raises(NotAcceptable):
        output_fn(predict_fn(input_fn(TEXTS[0], "text/plain"), model, context), "text/csv")
    with pytest.raises(PayloadTooLarge, match="max_texts_per_explanation"):
        predict_fn(input_fn(json.dumps({"data": TEXTS * 2}).encode(), "application/json"), model, context)
    _, content_type = output_fn(predict_fn(rows, model, context), "application/jsonlines")
    assert content_type == "application/jsonlines"
