"""The request/response contract against the real TorchServe: every format, every bad input, per request."""

from __future__ import annotations

import csv
import http.client
import io
import json

import pytest

from reliability.catalog_contract import CONTRACT_BAD_INPUTS as BAD_INPUTS
from tests.integration.batches import send_in_one_batch

pytestmark = pytest.mark.integration

GOOD = ({"data": ["a good request"]}, "application/json")


@pytest.mark.parametrize(("body", "content_type", "status", "error_type", "words"), BAD_INPUTS)
def test_bad_input_gets_its_own_4xx_while_good_neighbours_in_its_batch_succeed(
    server, predict, body, content_type, status, error_type, words
):
    good = json.dumps(GOOD[0]).encode()
    sends = [
        lambda: predict(good, headers={"Content-Type": GOOD[1]}),
        lambda: predict(body, headers={"Content-Type": content_type}),
        lambda: predict(good, headers={"Content-Type": GOOD[1]}),
        lambda: predict(good, headers={"Content-Type": GOOD[1]}),
    ]
    (first, bad, *others), batch = send_in_one_batch(server, sends)
    assert (batch.requests, batch.errors) == (4, 1)
    for response in (first, *others):
        assert response.status_code == 200, response.text
        assert response.json()[0]["label"] in {"business", "sport", "tech"}
    assert bad.status_code == status, bad.text
    assert bad.headers["Content-Type"].startswith("application/json")
    error = bad.json()
    assert (set(error), error["code"], error["type"]) == ({"code", "type", "message"}, status, error_type)
    assert words.lower() in error["message"].lower()
    assert predict(json={"text": "still serving"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        ({"data": "one"}, None),
        ({"data": ["one", "two"]}, 2),
        ({"text": "one"}, None),
        ({"inputs": "one"}, None),
        ({"inputs": ["one", "two", "three"]}, 3),
        ("bare string", None),  # TorchServe hands the handler the parsed JSON string, not the body
        (["bare", "list"], 2),
    ],
)
def test_each_json_shape_gives_the_mirrored_response(predict, body, texts):
    response = predict(json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    results = [answer] if texts is None else answer
    assert isinstance(answer, dict if texts is None else list)
    assert len(results) == (texts or 1)
    assert all(result["label"] in {"business", "sport", "tech"} for result in results)


def test_top_k_and_all_scores_parameters(predict):
    top2 = predict(json={"inputs": "x", "parameters": {"top_k": 2}}).json()
    everything = predict(json={"inputs": "x", "parameters": {"return_all_scores": True}}).json()
    assert len(top2["scores"]) == 2
    assert top2["scores"][0]["score"] >= top2["scores"][1]["score"]
    assert sorted(entry["label"] for entry in everything["scores"]) == ["business", "sport", "tech"]
    assert sum(entry["score"] for entry in everything["scores"]) == pytest.approx(1, abs=1e-4)


def test_jsonlines_request_gets_one_result_line_per_input_line_in_order(predict):
    body = '"first"\n{"text": "second"}\n\n{"inputs": "third, with a comma"}\n'
    response = predict(body.encode(), headers={"Content-Type": "application/jsonlines"})
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/jsonlines")
    lines = response.text.splitlines()
    assert len(lines) == 3
    reference = predict(json={"data": ["first", "second", "third, with a comma"]}).json()
    assert [json.loads(line)["score"] for line in lines] == [r["score"] for r in reference]


def test_csv_with_header_quoted_commas_and_newlines_gets_csv_lines_in_order(predict):
    texts = ["plain text", "a text, with commas, inside", 'a "quoted"\nmulti-line text']
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "text"])
    writer.writerows([[i, text] for i, text in enumerate(texts)])
    response = predict(buffer.getvalue().encode(), headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    reference = predict(json={"data": texts}).json()
    assert [(row[0], int(row[1])) for row in rows] == [(r["label"], r["label_id"]) for r in reference]


def test_accept_header_picks_the_response_format_or_gets_406(predict):
    body = {"data": ["one", "two"]}
    reference = predict(json=body).json()
    as_lines = predict(json=body, headers={"Accept": "application/jsonlines"})
    as_csv = predict(json=body, headers={"Accept": "text/csv"})
    refused = predict(json=body, headers={"Accept": "application/xml"})
    assert (as_lines.status_code, as_csv.status_code) == (200, 200)
    assert as_lines.headers["Content-Type"].startswith("application/jsonlines")
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    lines = [json.loads(line) for line in as_lines.text.splitlines()]
    rows = [{"label": label, "label_id": int(i), "score": float(score)} for label, i, score in csv_rows(as_csv.text)]
    for answer in (lines, rows):
        assert [(r["label"], r["label_id"]) for r in answer] == [(r["label"], r["label_id"]) for r in reference]
        assert [r["score"] for r in answer] == pytest.approx([r["score"] for r in reference], abs=1e-5)
    assert refused.status_code == 406
    assert refused.headers["Content-Type"].startswith("application/json")
    assert refused.json()["type"] == "NotAcceptable"


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


LIMIT = 6 * 1024 * 1024  # config.properties max_request_size = the handler's max_request_bytes


def test_a_body_of_exactly_the_limit_is_classified(predict):
    body = b"word " * (LIMIT // 5) + b"x" * (LIMIT % 5)
    assert len(body) == LIMIT
    response = predict(body, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    assert response.json()["truncated"] is True


def test_a_body_over_the_limit_is_refused_by_the_frontend_before_it_is_sent(server, predict):
    """TorchServe answers 413 from the Content-Length alone and closes the connection, so the client learns it
    before sending the body (no race with a connection reset half-way through the upload)."""
    host, port = server.inference_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.putrequest("POST", "/predictions/tiny")
        connection.putheader("Content-Type", "text/plain")
        connection.putheader("Content-Length", str(LIMIT + 1))
        connection.endheaders()  # headers only: the body is never sent
        response = connection.getresponse()
        assert response.status == 413
        assert response.read() == b""  # the frontend's own 413 has no body (docs/reliability.md)
    finally:
        connection.close()
    assert predict(json={"text": "still serving"}).status_code == 200
