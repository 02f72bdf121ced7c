"""Text pairs in every request format and reranking, against the real TorchServe: a 3-label tiny BERT (`tiny`) and
a one-logit cross-encoder (`reranker`, a tiny random BERT with `num_labels=1`), both served in fp32 torch so the
answers can be checked against transformers' own `tokenizer(a, b)` and forward."""

from __future__ import annotations

import json

import grpc
import pytest
import requests
import torch
import yaml

from tests.conftest import save_tiny_bert
from tests.integration.conftest import ROOT, archive, start_server
from tests.integration.test_metrics import exported, value
from tools.grpc_stubs import load_stubs
from tools.server import wait_for

pytestmark = pytest.mark.integration

PAIRS = [
    ("A man is playing a guitar.", "Someone plays an instrument."),
    ("Shares fell after the profit warning.", "The striker scored twice in the second half."),
]
QUERY = "Who won the match?"
DOCUMENTS = [
    "Shares in the chip maker rose after strong earnings.",
    "The striker scored twice as the leaders won the match.",
    "The minister defended the new education bill.",
    "Rain is expected across the north tomorrow.",
]
FP32 = {"engine": "torch", "precision": "fp32", "max_texts_per_request": 8}
ONE_WORKER = {"minWorkers": 1, "maxWorkers": 1}  # two models on a small host


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("pair-models")
    return {
        "tiny": save_tiny_bert(folder / "tiny", initializer_range=0.2),
        "reranker": save_tiny_bert(folder / "reranker", labels=("LABEL_0",), seed=5, initializer_range=0.5),
    }


def config_file(folder, **handler_settings):
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    handler = {**shipped.get("handler", {}), **handler_settings}
    path = folder / f"model-config-{handler_settings['engine']}.yaml"
    path.write_text(yaml.safe_dump(shipped | ONE_WORKER | {"handler": handler}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def pair_server(tmp_path_factory, models):
    """`tiny` and `reranker` in fp32 torch; `tiny_onnx` (the same `tiny`) on its ONNX export in fp32."""
    from tools.accuracy_gate import run_gate, write_manifest
    from tools.onnx_export import export_onnx

    store = tmp_path_factory.mktemp("pair-store")
    for name, folder in models.items():
        archive(folder, store, name, config=config_file(store.parent, **FP32))
    engines = tmp_path_factory.mktemp("pair-engines")
    export_onnx(models["tiny"], engines)
    gate_settings = {"max_length": 256, "long_text": "truncate", "token_budget": 512}  # as conftest.tiny_engines_dir
    write_manifest(run_gate(models["tiny"], engines, gate_settings, "accept"), engines)
    onnx = config_file(store.parent, **{**FP32, "engine": "onnxruntime"})
    archive(models["tiny"], store, "tiny_onnx", config=onnx, engines_dir=engines)
    server = start_server(store, "tiny=tiny.mar,reranker=reranker.mar,tiny_onnx=tiny_onnx.mar")
    yield server
    server.stop()
    server.cleanup()


def reference(folder, pairs, sigmoid=False) -> list[list[float]]:
    """transformers' own scores of each pair (softmax; sigmoid for the one-logit model)."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    with torch.inference_mode():
        logits = [model(**tokenizer(a, b, return_tensors="pt")).logits[0] for a, b in pairs]
    return [(torch.sigmoid(x) if sigmoid else torch.softmax(x, -1)).tolist() for x in logits]


def best(scores: list[float]) -> tuple[int, float]:
    label_id = max(range(len(scores)), key=lambda i: scores[i])
    return label_id, scores[label_id]


def post(server, path: str, **kwargs) -> requests.Response:
    return requests.post(f"{server.inference_url}/{path}", timeout=60, **kwargs)


def same(results: list[dict], expected: list[list[float]]) -> None:
    assert [(r["label_id"], r["score"]) for r in results] == [
        (label_id, pytest.approx(score, abs=1e-5)) for label_id, score in map(best, expected)
    ]


def test_a_pair_scores_as_transformers_scores_tokenizer_a_b(pair_server, models):
    expected = reference(models["tiny"], PAIRS)
    a, b = PAIRS[0]
    response = post(pair_server, "predictions/tiny", json={"text": a, "text_pair": b})
    assert response.status_code == 200, response.text
    same([response.json()], expected[:1])
    assert response.json()["truncated"] is False
    single = post(pair_server, "predictions/tiny", json={"text": a}).json()
    assert single["score"] != pytest.approx(response.json()["score"], abs=1e-6)  # the second text is read


def test_onnx_runtime_serves_pairs_with_their_token_types(pair_server, models):
    body = {"data": [{"text": a, "text_pair": b} for a, b in PAIRS]}
    response = post(pair_server, "predictions/tiny_onnx", json=body)
    assert response.status_code == 200, response.text
    same(response.json(), reference(models["tiny"], PAIRS))
    assert "engine=onnxruntime dtype=fp32" in pair_server.model_log()


@pytest.mark.parametrize(
    ("path", "body", "headers", "results"),
    [
        (
            "predictions/tiny",
            json.dumps({"data": [{"text": a, "text_pair": b} for a, b in PAIRS] + ["one text"]}),
            {"Content-Type": "application/json"},
            lambda body: body[:2],
        ),
        (
            "predictions/tiny",
            "".join(json.dumps({"text": a, "text_pair": b}) + "\n" for a, b in PAIRS),
            {"Content-Type": "application/jsonlines"},
            lambda body: body,
        ),
        (
            "predictions/tiny",
            "text,text_pair\n" + "".join(f'"{a}","{b}"\n' for a, b in PAIRS),
            {"Content-Type": "text/csv", "Accept": "application/json"},
            lambda body: body,
        ),
        (
            "v1/models/tiny:predict",
            json.dumps({"instances": [{"text": a, "text_pair": b} for a, b in PAIRS]}),
            {"Content-Type": "application/json"},
            lambda body: body["predictions"],
        ),
    ],
    ids=["json-list", "jsonlines", "csv", "kserve-v1"],
)
def test_every_format_carries_pairs(pair_server, models, path, body, headers, results):
    response = post(pair_server, path, data=body.encode(), headers=headers)
    assert response.status_code == 200, response.text
    if headers["Content-Type"] == "application/jsonlines":
        answer = [json.loads(line) for line in response.text.splitlines()]
    else:
        answer = response.json()
    same(results(answer), reference(models["tiny"], PAIRS))


def oip_tensors(texts, pairs) -> list[dict]:
    return [
        {"name": name, "datatype": "BYTES", "shape": [len(data)], "data": data}
        for name, data in (("text", texts), ("text_pair", pairs))
    ]


def test_open_inference_rest_takes_two_bytes_inputs(pair_server, models):
    body = {"id": "p1", "inputs": oip_tensors([a for a, _ in PAIRS], [b for _, b in PAIRS])}
    response = post(pair_server, "v2/models/tiny/infer", json=body)
    assert response.status_code == 200, response.text
    outputs = {tensor["name"]: tensor["data"] for tensor in response.json()["outputs"]}
    expected = list(map(best, reference(models["tiny"], PAIRS)))
    assert outputs["label_id"] == [label_id for label_id, _ in expected]
    assert outputs["score"] == [pytest.approx(score, abs=1e-5) for _, score in expected]


def test_open_inference_grpc_takes_two_bytes_inputs(pair_server, models):
    stubs = load_stubs()
    pb = stubs.open_inference_grpc_pb2
    tensors = [
        pb.ModelInferRequest.InferInputTensor(
            name=name, datatype="BYTES", shape=[len(PAIRS)],
            contents=pb.InferTensorContents(bytes_contents=[pair[i].encode() for pair in PAIRS]),
        )
        for i, name in enumerate(("text", "text_pair"))
    ]  # fmt: skip
    request = pb.ModelInferRequest(model_name="tiny", id="g1", inputs=tensors)
    with grpc.insecure_channel(f"127.0.0.1:{pair_server.ports['grpc_inference_port']}") as channel:
        answer = stubs.open_inference_grpc_pb2_grpc.GRPCInferenceServiceStub(channel).ModelInfer(request, timeout=60)
    outputs = {tensor.name: tensor for tensor in answer.outputs}
    assert "error" not in outputs
    expected = list(map(best, reference(models["tiny"], PAIRS)))
    assert list(outputs["label_id"].contents.int64_contents) == [label_id for label_id, _ in expected]
    assert list(outputs["score"].contents.fp32_contents) == [pytest.approx(s, abs=1e-5) for _, s in expected]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("predictions/tiny", {"text": "first", "text_pair": " "}, "text_pair 0 is empty"),
        ("v1/models/tiny:predict", {"instances": ["x", {"text": "a", "text_pair": ""}]}, "text_pair 1 is empty"),
        ("v2/models/tiny/infer", {"inputs": oip_tensors(["a"], [""])}, "text_pair 0 is empty"),
    ],
)
def test_an_empty_second_text_is_a_400_naming_it(pair_server, path, body, message):
    response = post(pair_server, path, json=body)
    assert response.status_code == 400
    assert message in response.text


def test_rerank_ranks_documents_by_the_cross_encoders_score(pair_server, models):
    scores = [s[0] for s in reference(models["reranker"], [(QUERY, d) for d in DOCUMENTS], sigmoid=True)]
    order = sorted(range(len(DOCUMENTS)), key=lambda i: -scores[i])
    body = {"query": QUERY, "documents": DOCUMENTS, "top_n": 3, "return_documents": True}
    response = post(pair_server, "predictions/reranker", json=body)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == order[:3]
    assert [r["score"] for r in results] == [pytest.approx(scores[i], abs=1e-5) for i in order[:3]]
    assert [r["document"] for r in results] == [DOCUMENTS[i] for i in order[:3]]
    tei = post(pair_server, "predictions/reranker", json={"query": QUERY, "texts": DOCUMENTS}).json()["results"]
    assert [r["index"] for r in tei] == order
    assert all("document" not in r for r in tei)


@pytest.mark.parametrize(
    ("model", "body", "status", "message"),
    [
        ("reranker", {"query": QUERY, "documents": DOCUMENTS * 3}, 413, "more than 8 texts"),
        ("reranker", {"query": QUERY, "documents": ["fine", ""]}, 400, "documents[1] is empty"),
        ("tiny", {"query": QUERY, "documents": DOCUMENTS}, 501, "rerank_label"),
    ],
)
def test_rerank_errors_are_that_requests_own(pair_server, model, body, status, message):
    response = post(pair_server, f"predictions/{model}", json=body)
    assert response.status_code == status
    assert message in response.json()["message"]


def test_metrics_count_pairs_and_reranked_documents(pair_server):
    before = exported(pair_server.metrics_url)
    names = ("bert_text_pairs_total", "bert_reranked_documents_total")
    assert post(pair_server, "predictions/reranker", json={"query": QUERY, "documents": DOCUMENTS}).ok
    assert post(pair_server, "predictions/tiny", json={"data": [{"text": "a", "text_pair": "b"}, "c"]}).ok

    def grown():
        samples = exported(pair_server.metrics_url)
        growth = [value(samples, name) - value(before, name) for name in names]
        return growth if growth[0] >= len(DOCUMENTS) + 1 and growth[1] >= len(DOCUMENTS) else None

    wait_for(grown, 30, f"growth of {names} on /metrics")  # at least: earlier tests' counts may arrive late
