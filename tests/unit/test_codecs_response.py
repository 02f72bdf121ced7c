"""`encode_results`: the response body mirrors the request's shape, in the negotiated format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bert_classifier.codecs import encode_results
from bert_classifier.codecs.negotiation import CSV, JSON, JSON_LINES
from bert_classifier.codecs.response import encode_json

pytestmark = pytest.mark.unit

RESULTS = [
    {"label": "sport", "label_id": 1, "score": 0.9, "truncated": False},
    {"label": "tech", "label_id": 2, "score": 0.55, "truncated": True},
    {"label": "business", "label_id": 0, "score": 0.4, "truncated": False},
]


def test_json_single_text_is_one_object():
    body = encode_results(RESULTS[:1], single=True, response_format=JSON)[0]

    assert json.loads(body) == RESULTS[0]


def test_json_list_is_a_list_in_request_order():
    body = encode_results(RESULTS, single=False, response_format=JSON)[0]

    assert json.loads(body) == RESULTS


def test_json_list_of_one_text_is_still_a_list():
    assert json.loads(encode_results(RESULTS[:1], single=False, response_format=JSON)[0]) == RESULTS[:1]


def test_json_is_compact_utf8_with_non_ascii_left_unescaped():
    results = [{"label": "économie 经济", "label_id": 0, "score": 1.0, "truncated": False}]

    body = encode_results(results, single=True, response_format=JSON)[0]

    assert "économie 经济".encode() in body
    assert b"\\u" not in body
    assert b", " not in body
    assert b": " not in body
    assert json.loads(body.decode("utf-8"))["label"] == "économie 经济"


def test_nested_scores_survive_encoding():
    result = {**RESULTS[0], "scores": [{"label": "sport", "label_id": 1, "score": 0.9}]}

    assert json.loads(encode_results([result], single=True, response_format=JSON)[0]) == result


@pytest.mark.parametrize("single", [True, False])
def test_jsonlines_is_one_line_per_result_in_order(single):
    results = RESULTS[:1] if single else RESULTS

    body = encode_results(results, single=single, response_format=JSON_LINES)[0]

    assert body.endswith(b"\n")
    lines = body.decode("utf-8").split("\n")[:-1]
    assert [json.loads(line) for line in lines] == results


def test_jsonlines_leaves_non_ascii_unescaped():
    results = [{"label": "Sport ⚽", "label_id": 0, "score": 1.0, "truncated": False}]

    assert "⚽".encode() in encode_results(results, single=False, response_format=JSON_LINES)[0]


@pytest.mark.parametrize("single", [True, False])
def test_csv_is_one_line_per_result_without_header(single):
    results = RESULTS[:1] if single else RESULTS

    body = encode_results(results, single=single, response_format=CSV)[0].decode("utf-8")

    assert body.endswith("\n")
    assert body.count("\n") == len(results)
    assert "label" not in body.splitlines()[0]
    assert body.splitlines()[0] == f"{results[0]['label']},{results[0]['label_id']},{results[0]['score']}"


def test_csv_rows_are_label_label_id_score_in_order():
    body = encode_results(RESULTS, single=False, response_format=CSV)[0].decode("utf-8")

    assert body == "sport,1,0.9\ntech,2,0.55\nbusiness,0,0.4\n"


def test_csv_quotes_a_label_with_a_comma():
    results = [{"label": "arts, culture", "label_id": 0, "score": 0.5, "truncated": False}]

    body = encode_results(results, single=False, response_format=CSV)[0].decode("utf-8")

    assert list(csv.reader(io.StringIO(body))) == [["arts, culture", "0", "0.5"]]


def test_unknown_response_format_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown response format"):
        encode_results(RESULTS, single=False, response_format="text/plain")[0]


@pytest.mark.parametrize("response_format", [JSON, JSON_LINES, CSV])
def test_the_encoder_names_the_content_type_it_wrote(response_format):
    assert encode_results(RESULTS, single=False, response_format=response_format)[1] == response_format


def test_encode_json_is_compact_unescaped_utf8():
    assert encode_json({"message": "café", "code": 400}) == '{"message":"café","code":400}'.encode()
