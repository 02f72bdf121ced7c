"""Text pairs in every request format, and rerank requests: what `decode_request` reads, what it refuses (and
says why), and how a rerank answer is ranked."""

from __future__ import annotations

import base64
import json

import pytest

from bert_classifier.codecs import decode_request
from bert_classifier.codecs.kserve_v1 import KSERVE_V1
from bert_classifier.codecs.open_inference import TORCHSERVE_GRPC, OpenInference
from bert_classifier.codecs.rerank import Rerank
from bert_classifier.errors import InvalidInput, NotSupported, PayloadTooLarge
from bert_classifier.messages import error_response

pytestmark = pytest.mark.unit

A, B = "A man is playing a guitar.", "Someone plays an instrument."


def decode(body, content_type="application/json", max_texts=64, **kwargs):
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body).encode()
    return decode_request(body, content_type, max_texts, **kwargs)


def tensor(name, data) -> dict:
    return {"name": name, "datatype": "BYTES", "shape": [len(data)], "data": data}


@pytest.mark.parametrize(
    ("body", "content_type", "texts", "pairs"),
    [
        ({"text": A, "text_pair": B}, "application/json", (A,), (B,)),
        ({"data": [{"text": A, "text_pair": B}, "one text"]}, "application/json", (A, "one text"), (B, None)),
        ({"inputs": {"text": A, "text_pair": B}}, "application/json", (A,), (B,)),  # Hugging Face's pair input
        ({"inputs": ["one text", {"text": A, "text_pair": B}]}, "application/json", ("one text", A), (None, B)),
        ([{"text": A, "text_pair": B}, "one text"], "application/json", (A, "one text"), (B, None)),
        (
            f'{json.dumps({"text": A, "text_pair": B})}\n"one text"\n',
            "application/jsonlines",
            (A, "one text"),
            (B, None),
        ),
        (f'text,text_pair\n"{A}","{B}"\none text,\n', "text/csv", (A, "one text"), (B, None)),
        (f'text_pair,text\n"{B}","{A}"\n,one text\n', "text/csv", (A, "one text"), (B, None)),
        ({"instances": [{"text": A, "text_pair": B}, "one text"]}, "application/json", (A, "one text"), (B, None)),
        (
            {"inputs": [tensor("text", [A, "one text"]), tensor("text_pair", [B, "other"])]},
            "application/json",
            (A, "one text"),
            (B, "other"),
        ),
    ],
)
def test_every_format_reads_pairs_and_may_mix_them_with_single_texts(body, content_type, texts, pairs):
    parsed = decode(body, content_type)
    assert parsed.texts == texts
    assert parsed.pairs == pairs
    assert parsed.single is (len(texts) == 1)


def test_without_pairs_nothing_changes():
    assert decode({"data": ["x", "y"]}).pairs == ()
    assert decode("text\nx\n", "text/csv").pairs == ()


def test_oip_pair_tensors_may_come_in_either_order_and_through_the_grpc_bridge():
    parsed = decode({"inputs": [tensor("text_pair", [B]), tensor("text", [A])]})
    assert (parsed.texts, parsed.pairs, type(parsed.protocol)) == ((A,), (B,), OpenInference)
    encoded = [base64.b64encode(text.encode()).decode() for text in (A, B)]
    bridged = {"id": "7", "inputs": [tensor("text", encoded[:1]), tensor("text_pair", encoded[1:])]}
    parsed = decode_request(bridged, "application/json", 64, hint=TORCHSERVE_GRPC)
    assert (parsed.texts, parsed.pairs) == ((A,), (B,))


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ({"text": A, "text_pair": ""}, "application/json", "text_pair 0 is empty"),
        ({"data": ["x", {"text": A, "text_pair": "  "}]}, "application/json", "text_pair 1 is empty"),
        ({"text": A, "text_pair": 3}, "application/json", "'text_pair' is not"),
        ({"data": "x", "text_pair": B}, "application/json", "'text_pair' goes with 'text'"),
        ({"data": [{"text_pair": B}]}, "application/json", r"data\[0\]: a text pair needs.*'text' is not"),
        ('{"text": "a", "text_pair": ""}\n', "application/jsonlines", "text_pair 0 is empty"),
        ({"instances": [{"text": A, "text_pair": ""}]}, "application/json", "text_pair 0 is empty"),
        ({"inputs": [tensor("text", [A]), tensor("text_pair", [""])]}, "application/json", "text_pair 0 is empty"),
        ({"inputs": [tensor("text", [A]), tensor("pair", [B])]}, "application/json", "two named 'text' and"),
        (
            {"inputs": [tensor("text", [A, A]), {**tensor("text_pair", [B, B]), "shape": [1, 2]}]},
            "application/json",
            "must have the same shape",
        ),
    ],
)
def test_a_bad_pair_is_a_400_that_names_it(body, content_type, message):
    with pytest.raises(InvalidInput, match=message) as raised:
        decode(body, content_type)
    assert A not in raised.value.message
    assert B not in raised.value.message


def test_the_second_texts_count_against_the_body_size_limit():
    document = {"text": "short", "text_pair": "x" * 100}
    assert decode_request(document, "application/json", 64, max_bytes=200).pairs == ("x" * 100,)
    with pytest.raises(PayloadTooLarge):
        decode_request(document, "application/json", 64, max_bytes=50)


def test_pairs_are_texts_for_the_text_count_limit():
    with pytest.raises(PayloadTooLarge):
        decode({"data": [{"text": A, "text_pair": B}] * 3}, max_texts=2)


# --- reranking ---------------------------------------------------------------------------------------------

DOCUMENTS = ["first passage", "second passage", "third passage"]


@pytest.mark.parametrize("field", ["documents", "texts"])
def test_a_rerank_request_is_the_query_paired_with_each_document(field):
    parsed = decode({"query": "q", field: DOCUMENTS, "top_n": 2, "return_documents": True, "model": "ignored"})
    assert parsed.texts == ("q",) * 3
    assert parsed.pairs == tuple(DOCUMENTS)
    assert parsed.parameters.return_all_scores
    assert parsed.protocol == Rerank(tuple(DOCUMENTS), 2, True, None)


def test_a_query_field_in_another_protocol_is_that_protocols_unknown_field():
    with pytest.raises(InvalidInput, match="a KServe v1 request allows") as raised:
        decode({"instances": ["x"], "query": "q"})
    assert raised.value.protocol is KSERVE_V1


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        ({"query": "", "documents": ["d"]}, InvalidInput, "'query' must be a non-empty string"),
        ({"query": "q"}, InvalidInput, "exactly one of the fields 'documents' or 'texts'"),
        ({"query": "q", "documents": ["d"], "texts": ["d"]}, InvalidInput, "exactly one of"),
        ({"query": "q", "documents": []}, InvalidInput, "non-empty list"),
        ({"query": "q", "documents": ["d", " "]}, InvalidInput, r"documents\[1\] is empty"),
        ({"query": "q", "documents": ["d", 4]}, InvalidInput, r"documents\[1\] must be a string"),
        ({"query": "q", "documents": ["d"], "top_n": 0}, InvalidInput, "'top_n' must be a positive integer"),
        ({"query": "q", "documents": ["d"], "return_documents": "yes"}, InvalidInput, "'return_documents'"),
        ({"query": "q", "documents": ["d"], "rank": 1}, InvalidInput, r"unknown field\(s\): 'rank'"),
        ({"query": "q", "documents": ["d"] * 3}, PayloadTooLarge, "more than 2 texts"),
    ],
)
def test_a_bad_rerank_request_is_refused_and_says_why(document, error, message):
    with pytest.raises(error, match=message):
        decode(document, max_texts=2)


def result(*scores: float, labels=("no", "yes")) -> dict:
    """A result as `format_result` shapes it with `return_all_scores` (one entry per label, best first)."""
    entries = sorted(
        ({"label": label, "label_id": i, "score": s} for i, (label, s) in enumerate(zip(labels, scores, strict=True))),
        key=lambda entry: -entry["score"],
    )
    top = {**entries[0], "truncated": False}
    return {**top, "scores": entries} if len(entries) > 1 else top


def test_one_logit_scores_rank_best_first_cut_at_top_n_with_the_documents():
    protocol = Rerank(tuple(DOCUMENTS), top_n=2, return_documents=True)
    answer = protocol.encode([result(0.2, labels=("LABEL_0",)), result(0.9, labels=("LABEL_0",)),
                              result(0.5, labels=("LABEL_0",))], False, "json", None)  # fmt: skip
    assert json.loads(answer.body) == {
        "results": [
            {"index": 1, "score": 0.9, "document": "second passage"},
            {"index": 2, "score": 0.5, "document": "third passage"},
        ]
    }
    assert answer.ranked == 3


def test_a_model_with_more_labels_ranks_by_its_rerank_label():
    results = [result(0.7, 0.3), result(0.1, 0.9)]
    answer = Rerank(("a", "b"), rerank_label="no").encode(results, False, "json", None)
    assert json.loads(answer.body) == {"results": [{"index": 0, "score": 0.7}, {"index": 1, "score": 0.1}]}
    answer = Rerank(("a", "b"), rerank_label="yes").encode(results, False, "json", None)
    assert [entry["index"] for entry in json.loads(answer.body)["results"]] == [1, 0]


def test_a_model_with_more_labels_and_no_rerank_label_cannot_rerank_and_says_so():
    with pytest.raises(NotSupported, match="rerank_label") as raised:
        Rerank(("a", "b")).encode([result(0.7, 0.3)], False, "json", None)
    assert error_response(raised.value).status == 501


def test_rerank_errors_are_our_own_error_objects():
    with pytest.raises(InvalidInput) as raised:
        decode({"query": "q", "documents": []})
    body = json.loads(error_response(raised.value).body)
    assert (body["code"], body["type"]) == (400, "InvalidInput")
