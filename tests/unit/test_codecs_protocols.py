"""KServe v1 and Open Inference Protocol codecs: recognition by body shape, decoding, answers and error bodies."""

from __future__ import annotations

import json
import struct

import pytest

from bert_classifier.codecs import NATIVE, ModelIdentity, decode_request
from bert_classifier.codecs.kserve_v1 import KSERVE_V1
from bert_classifier.codecs.negotiation import JSON, choose_response_format
from bert_classifier.codecs.open_inference import TORCHSERVE_GRPC, OpenInference, RequestedOutput, TorchServeGrpcBridge
from bert_classifier.errors import InvalidInput, NotAcceptable, PayloadTooLarge, ServingError
from bert_classifier.messages import error_response

pytestmark = pytest.mark.unit

MODEL = ModelIdentity("bert", "1.0")


def decode(document, headers=None, hint=None, max_texts=64):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return decode_request(body, "application/json", max_texts, 10_000, headers=headers, hint=hint)


def tensor(data, shape=None, datatype="BYTES", **extra) -> dict:
    return {"name": "text", "datatype": datatype, "shape": shape or [len(data)], "data": data, **extra}


def error_of(document, **kwargs) -> tuple[int, dict]:
    """Status and JSON error body of a request that fails to decode, as the service answers it."""
    with pytest.raises(ServingError) as raised:
        decode(document, **kwargs)
    response = error_response(raised.value, kwargs.get("hint"), MODEL)
    return response.status, json.loads(response.body)


def results(n: int, labels=("a", "b", "c"), all_scores=False) -> list[dict]:
    """Result objects as `format_result` makes them: text i's best label is i % 3."""
    out = []
    for i in range(n):
        ranked = [i % 3, (i + 1) % 3, (i + 2) % 3]
        scores = [{"label": labels[j], "label_id": j, "score": [0.6, 0.3, 0.1][r]} for r, j in enumerate(ranked)]
        out.append({**scores[0], "truncated": False, **({"scores": scores} if all_scores else {})})
    return out


# --- recognition: decided per request by the body's shape ---------------------------------------------------


@pytest.mark.parametrize(
    ("document", "protocol"),
    [
        ({"data": ["x"]}, NATIVE),
        ({"inputs": ["x", "y"]}, NATIVE),  # our Hugging Face-style inputs: strings
        ({"inputs": "x"}, NATIVE),
        ({"instances": ["x"]}, KSERVE_V1),
        ({"inputs": [tensor(["x"])]}, OpenInference()),  # OIP inputs: tensor objects
    ],
)
def test_the_body_shape_decides_the_protocol(document, protocol):
    assert decode(document).protocol == protocol


def test_hugging_face_inputs_with_a_non_string_is_still_our_error_shape():
    status, body = error_of({"inputs": ["x", {"name": "text"}]})
    assert status == 400
    assert set(body) == {"code", "type", "message"}


# --- KServe v1 -----------------------------------------------------------------------------------------------


def test_v1_instances_are_strings_or_objects_with_one_text_field():
    parsed = decode({"instances": ["a", {"text": "b"}, {"data": "c"}], "parameters": {"top_k": 2}})
    assert parsed.texts == ("a", "b", "c")
    assert parsed.parameters.top_k == 2
    assert not parsed.single


def test_v1_answer_is_predictions_in_instance_order():
    answer = KSERVE_V1.encode(results(2), False, JSON, MODEL)
    assert json.loads(answer.body) == {"predictions": results(2)}
    assert answer.content_type == "application/json"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"instances": [3]}, "instances[0]"),
        ({"instances": [{"text": "a", "other": 1}]}, "instances[0]"),
        ({"instances": "a"}, "'instances' must be a list"),
        ({"instances": ["a"], "signature": "x"}, "unknown field"),
        ({"instances": []}, "no texts"),
    ],
)
def test_v1_errors_are_kserve_error_objects(document, message):
    status, body = error_of(document)
    assert status == 400
    assert list(body) == ["error"]
    assert message in body["error"]


# --- Open Inference Protocol: requests -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_tensor", "texts"),
    [
        (tensor(["a", "b"]), ("a", "b")),
        (tensor([["a", "b"], ["c", "d"]], [2, 2]), ("a", "b", "c", "d")),
        (tensor("one text", [1]), ("one text",)),  # KServe's own samples send a bare string
    ],
)
def test_oip_bytes_tensor_flat_nested_or_single_string(input_tensor, texts):
    assert decode({"inputs": [input_tensor]}).texts == texts


def test_oip_id_parameters_and_outputs_reach_the_protocol():
    parsed = decode(
        {
            "id": "r-1",
            "inputs": [tensor(["a"])],
            "parameters": {"top_k": 2},
            "outputs": [{"name": "label"}, {"name": "scores", "parameters": {"binary_data": True}}],
        }
    )
    assert parsed.protocol == OpenInference("r-1", (RequestedOutput("label"), RequestedOutput("scores", True)), 2)
    assert parsed.parameters.return_all_scores  # the scores tensor needs every label's score


@pytest.mark.parametrize(
    ("document", "status", "message"),
    [
        ({"inputs": [tensor([1.5], datatype="FP32")]}, 400, "datatype must be BYTES"),
        ({"inputs": [tensor(["a"]), tensor(["b"])]}, 400, "or two named 'text' and 'text_pair'"),
        ({"inputs": [tensor(["a", "b"], [3])]}, 400, "shape"),
        ({"inputs": [tensor(["a", 7])]}, 400, "element 1 must be a string"),
        ({"inputs": [tensor(["a"])], "outputs": [{"name": "logits"}]}, 400, "outputs[0] must name one of"),
        ({"inputs": [tensor(["a"])], "parameters": {"temperature": 1}}, 400, "unknown parameter"),
        ({"inputs": [tensor(["a"])], "id": 5}, 400, "'id' must be a string"),
        # The answer echoes the id: a lone surrogate failed its UTF-8 encoding after the work (a 500).
        ({"inputs": [tensor(["a"])], "id": "req-\ud800"}, 400, "'id' has an unpaired UTF-16 surrogate at character 4"),
        ({"inputs": [{"name": "text", "datatype": "BYTES", "shape": [1]}]}, 400, "no 'data'"),
        ({"inputs": [tensor(["a"], [10**12])]}, 413, "more than 64 texts"),
    ],
)
def test_oip_errors_are_oip_error_objects_with_our_status(document, status, message):
    answer_status, body = error_of(document)
    assert answer_status == status
    assert list(body) == ["error"]
    assert message in body["error"]


def binary_body(texts: list[str], **parameters) -> tuple[bytes, dict]:
    """A request in Triton's binary tensor extension: JSON header, then each element as uint32 length + bytes."""
    raw = b"".join(struct.pack("<I", len(t.encode())) + t.encode() for t in texts)
    header = {"name": "text", "datatype": "BYTES", "shape": [len(texts)], "parameters": {"binary_data_size": len(raw)}}
    document = json.dumps({"inputs": [header], "parameters": parameters}).encode()
    return document + raw, {"inference-header-content-length": str(len(document))}


def test_oip_binary_input_tensor_is_read_from_after_the_json():
    body, headers = binary_body(["Shares fell.", "Ünïcode"])
    assert decode(body, headers=headers).texts == ("Shares fell.", "Ünïcode")


@pytest.mark.parametrize("length", ["\u00b2", "\u0663", "-1", "1e3", ""])
def test_oip_binary_header_that_is_not_ascii_digits_is_a_400_naming_it(length):
    # "²" and Arabic-Indic "٣" pass str.isdigit() but not int(): they were a 500.
    body, headers = binary_body(["Shares fell."])
    with pytest.raises(InvalidInput, match="header Inference-Header-Content-Length must be a byte count"):
        decode(body, headers={**headers, "inference-header-content-length": length})


def test_oip_binary_input_cut_short_is_a_400():
    body, headers = binary_body(["Shares fell."])
    with pytest.raises(InvalidInput, match="binary_data_size"):
        decode(body[:-3], headers=headers)


# --- TorchServe's OIP gRPC bridge ---------------------------------------------------------------------------


def bridge_document(*contents: bytes, datatype="BYTES") -> dict:
    """The JSON TorchServe's OpenInferenceProtocolImpl writes for a ModelInferRequest (BYTES as base64)."""
    import base64

    data = [base64.b64encode(item).decode() for item in contents]
    return {"id": "g-1", "model_name": "bert", "inputs": [tensor(data, datatype=datatype)]}


def test_bridge_bytes_arrive_base64_encoded():
    parsed = decode(bridge_document("Ünïcode".encode()), hint=TORCHSERVE_GRPC)
    assert parsed.texts == ("Ünïcode",)
    assert parsed.protocol == TorchServeGrpcBridge("g-1")


def test_bridge_answer_always_has_the_fields_torchserve_parses_back():
    body = json.loads(TorchServeGrpcBridge().encode(results(1), False, JSON, ModelIdentity("bert", "")).body)
    assert {"id", "model_name", "model_version", "outputs"} <= set(body)


@pytest.mark.parametrize("body", [b"", b"not json", b"{" * 20_000])
def test_bridge_errors_before_the_body_is_read_are_still_a_response_torchserve_can_parse(body):
    # TorchServe's GRPCJob reads id, model_name, model_version and outputs from whatever we answer; a body
    # without them kills the worker and fails its whole batch.
    with pytest.raises(ServingError) as raised:
        decode_request(body, None, 64, 10_000, hint=TORCHSERVE_GRPC)
    document = json.loads(error_response(raised.value, TORCHSERVE_GRPC, MODEL).body)
    assert document["model_name"] == "bert"
    assert document["model_version"] == "1.0"
    assert isinstance(document["id"], str)
    [error] = document["outputs"]
    assert error["name"] == "error"
    assert error["data"][0].startswith(("400 InvalidInput", "413 PayloadTooLarge"))


def test_bridge_error_echoes_the_request_id():
    with pytest.raises(ServingError) as raised:
        decode(bridge_document(b"x", datatype="FP32"), hint=TORCHSERVE_GRPC)
    assert json.loads(error_response(raised.value, TORCHSERVE_GRPC, MODEL).body)["id"] == "g-1"


# --- Open Inference Protocol: answers ------------------------------------------------------------------------


def test_oip_answer_has_label_label_id_score_with_shapes_and_datatypes():
    body = json.loads(OpenInference("r-1").encode(results(3), False, JSON, MODEL).body)
    assert (body["model_name"], body["model_version"], body["id"]) == ("bert", "1.0", "r-1")
    assert [(o["name"], o["datatype"], o["shape"]) for o in body["outputs"]] == [
        ("label", "BYTES", [3]),
        ("label_id", "INT64", [3]),
        ("score", "FP32", [3]),
    ]
    assert body["outputs"][1]["data"] == [0, 1, 2]


def test_oip_scores_are_n_by_labels_in_label_id_order_and_top_k_gives_n_by_k():
    protocol = OpenInference(outputs=(RequestedOutput("scores"), RequestedOutput("label_id")), top_k=2)
    body = json.loads(protocol.encode(results(2, all_scores=True), False, JSON, MODEL).body)
    scores, label_ids = body["outputs"]
    assert scores["shape"] == [2, 3]
    assert scores["data"] == [0.6, 0.3, 0.1, 0.1, 0.6, 0.3]
    assert label_ids["shape"] == [2, 2]
    assert label_ids["data"] == [0, 1, 1, 2]


def test_oip_binary_outputs_follow_the_json_header():
    protocol = OpenInference(outputs=(RequestedOutput("label", True), RequestedOutput("score", True)))
    answer = protocol.encode(results(2), False, JSON, MODEL)
    length = int(answer.headers["Inference-Header-Content-Length"])
    header, raw = json.loads(answer.body[:length]), answer.body[length:]
    sizes = [o["parameters"]["binary_data_size"] for o in header["outputs"]]
    labels, scores = raw[: sizes[0]], raw[sizes[0] :]
    assert labels == struct.pack("<I", 1) + b"a" + struct.pack("<I", 1) + b"b"
    assert struct.unpack("<2f", scores) == pytest.approx((0.6, 0.6))
    assert answer.content_type == "application/octet-stream"


def test_oip_answers_only_json_so_accept_csv_is_a_406():
    with pytest.raises(NotAcceptable):
        choose_response_format("text/csv", JSON, OpenInference().response_types)


def test_a_payload_error_raised_before_the_protocol_is_known_uses_our_shape():
    with pytest.raises(PayloadTooLarge) as raised:
        decode_request(b"x" * 20_000, "application/json", 64, 10_000)
    assert set(json.loads(error_response(raised.value).body)) == {"code", "type", "message"}
