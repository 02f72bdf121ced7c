"""`InferenceService.handle_batch`: one response per request, in order; errors stay with their request."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from bert_classifier.errors import InvalidInput, NotAcceptable
from bert_classifier.messages import Request, Response, error_response
from bert_classifier.model import TextClassifier
from bert_classifier.service import WARM_UP_TEXT, InferenceService
from bert_classifier.settings import Settings
from tests.conftest import TINY_LABELS, save_tiny_bert

pytestmark = pytest.mark.unit

SERVICE_LOGGER = "bert_classifier.service"
GUARD_LOGGER = "bert_classifier.messages"


@pytest.fixture(scope="module")
def service(tiny_bert_dir) -> InferenceService:
    return InferenceService.load(tiny_bert_dir, Settings(max_texts_per_request=4, max_request_bytes=2000))


def good(text: str = "Markets rallied after strong earnings.") -> Request:
    return Request(json.dumps({"text": text}).encode(), "application/json")


def body_of(response: Response):
    return json.loads(response.body)


def assert_same_result(actual, expected) -> None:
    """Equal results; scores to 1e-5 (a batch pads differently, so the 6th decimal may move)."""
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys()
        for key in expected:
            assert_same_result(actual[key], expected[key])
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected, strict=True):
            assert_same_result(a, e)
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=1e-5)
    else:
        assert actual == expected


def test_mixed_batch_gets_one_response_per_request_in_order(service):
    first = good("Stocks climbed as chip makers beat forecasts.")
    last = Request("The striker scored twice in the second half.", "text/plain")
    requests = [first, Request(b'{"text": ', "application/json"), Request(b"x", "image/png"), last]

    outcome = service.handle_batch(requests)

    assert [response.status for response in outcome.responses] == [200, 400, 415, 200]
    assert_same_result(body_of(outcome.responses[0]), body_of(service.handle(first)))
    assert_same_result(body_of(outcome.responses[3]), body_of(service.handle(last)))
    assert body_of(outcome.responses[0])["label"] in TINY_LABELS


def test_error_bodies_are_code_type_message_json(service):
    outcome = service.handle_batch(
        [
            Request(b"{oops", "application/json"),
            Request(b"x", "image/png"),
            Request(json.dumps({"data": ["a"] * 5}).encode(), "application/json"),
            Request(b'{"text": "x"}', "application/json", accept="text/html"),
        ]
    )

    expected = [
        (400, "InvalidInput"),
        (415, "UnsupportedMediaType"),
        (413, "PayloadTooLarge"),
        (406, "NotAcceptable"),
    ]
    for response, (status, error_type) in zip(outcome.responses, expected, strict=True):
        body = body_of(response)
        assert set(body) == {"code", "type", "message"}
        assert (response.status, body["code"], body["type"], response.error_type) == (
            status,
            status,
            error_type,
            error_type,
        )
        assert body["message"]
        assert response.content_type == "application/json"


def test_body_over_max_request_bytes_is_a_413_for_that_request_only(service):
    outcome = service.handle_batch([Request(b"x" * 2001, "text/plain"), good()])

    assert [response.status for response in outcome.responses] == [413, 200]
    assert body_of(outcome.responses[0])["type"] == "PayloadTooLarge"
    assert "max_request_bytes" in body_of(outcome.responses[0])["message"]


def test_batch_outcome_counts_error_types(service):
    outcome = service.handle_batch(
        [good(), Request(b"{", "application/json"), Request(b"", "text/plain"), Request(b"x", "image/gif")]
    )

    assert outcome.errors == Counter({"InvalidInput": 2, "UnsupportedMediaType": 1})
    assert outcome.responses[0].error_type is None


def test_classifier_failure_is_a_500_for_valid_requests_only_and_hides_the_exception(service, monkeypatch, caplog):
    def explode(encoded):
        raise RuntimeError("secret" + " text")  # built, so the logged source line does not hold it either

    monkeypatch.setattr(service.classifier, "score", explode)
    requests = [good(), Request(b"{", "application/json"), good("another one"), Request(b"x", "image/png")]

    with caplog.at_level(logging.ERROR, logger=GUARD_LOGGER):
        outcome = service.handle_batch(requests)

    assert [response.status for response in outcome.responses] == [500, 400, 500, 415]
    for response in (outcome.responses[0], outcome.responses[2]):
        assert b"secret text" not in response.body
        assert body_of(response)["type"] == "InternalError"
        assert body_of(response)["code"] == 500
    assert outcome.errors == Counter({"InternalError": 2, "InvalidInput": 1, "UnsupportedMediaType": 1})
    assert "unexpected RuntimeError in explode" in caplog.text  # the server log has the type and the frames
    assert "line" in caplog.text
    assert "secret text" not in caplog.text  # but not the message, which may quote the input


POISON = "the one text this fake model cannot run"


def fails_on_poison(original):
    """`classifier.score` that fails for any batch holding the poison text's tokens (a stand-in for a model
    fault that only one request's input triggers)."""

    def score(encoded):
        if any(segment.token_ids == POISON_IDS for item in encoded for segment in item.segments):
            raise RuntimeError("kernel fault")
        return original(encoded)

    return score


POISON_IDS: list[int] = []


def test_a_model_fault_one_request_causes_fails_that_request_only(service, monkeypatch):
    POISON_IDS[:] = service.classifier.encode([POISON]).segments[0].token_ids
    monkeypatch.setattr(service.classifier, "score", fails_on_poison(service.classifier.score))
    neighbours = [good(), good("The striker scored twice.")]
    alone = [service.handle(request) for request in neighbours]

    outcome = service.handle_batch([neighbours[0], good(POISON), neighbours[1]])

    assert [response.status for response in outcome.responses] == [200, 500, 200]
    assert_same_result(body_of(outcome.responses[0]), body_of(alone[0]))
    assert_same_result(body_of(outcome.responses[2]), body_of(alone[1]))


class TokenizerPanic(BaseException):
    """What a Rust tokenizer's panic looks like from Python (pyo3's PanicException is a BaseException)."""


def test_a_tokenizer_panic_is_that_requests_500_and_the_others_are_answered(service, monkeypatch):
    original = service.classifier.encode

    def encode(texts, pairs=()):
        if POISON in texts:
            raise TokenizerPanic("called `Option::unwrap()` on a `None` value")
        return original(texts, pairs)

    monkeypatch.setattr(service.classifier, "encode", encode)

    outcome = service.handle_batch([good(), good(POISON), good()])

    assert [response.status for response in outcome.responses] == [200, 500, 200]


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_signals_that_stop_the_process_are_not_swallowed(service, monkeypatch, stop):
    def encode(texts, pairs=()):
        raise stop

    monkeypatch.setattr(service.classifier, "encode", encode)

    with pytest.raises(stop):
        service.handle_batch([good()])


def test_a_request_over_the_token_cap_is_a_413_naming_it_and_its_neighbours_are_answered(tiny_bert_dir):
    capped = InferenceService.load(tiny_bert_dir, Settings(max_length=16, max_tokens_per_request=40))
    big = Request(json.dumps({"data": ["word " * 20] * 3}).encode(), "application/json")  # 3 x 16 tokens

    outcome = capped.handle_batch(
        [good(), big, Request(json.dumps({"data": ["a b", "c d"]}).encode(), "application/json")]
    )

    assert [response.status for response in outcome.responses] == [200, 413, 200]
    message = body_of(outcome.responses[1])["message"]
    assert "48 tokens" in message
    assert "max_tokens_per_request" in message


def test_window_mode_counts_every_window_against_the_token_cap(tiny_bert_dir):
    settings = Settings(max_length=16, long_text="window", window_stride=4, max_windows=8, max_tokens_per_request=64)
    capped = InferenceService.load(tiny_bert_dir, settings)

    assert capped.handle(Request("word " * 40, "text/plain")).status == 200  # 4 windows x 16 tokens
    assert capped.handle(Request("word " * 60, "text/plain")).status == 413  # 5 windows


def test_a_batch_past_its_deadline_answers_the_rounds_not_started_503_cheapest_first(tiny_bert_dir, monkeypatch):
    settings = Settings(max_length=16, max_tokens_per_request=48, batch_deadline_seconds=0.5)
    capped = InferenceService.load(tiny_bert_dir, settings)
    heavy = Request(json.dumps({"data": ["word " * 20] * 3}).encode(), "application/json")  # 48 tokens: a round
    clock = iter([0.0, 0.1, 9.0, 9.0])  # the batch starts, round 2 starts in time, round 3 does not
    monkeypatch.setattr("bert_classifier.service.time.monotonic", lambda: next(clock))

    outcome = capped.handle_batch([heavy, good(), heavy, good()])

    assert [response.status for response in outcome.responses] == [200, 200, 503, 200]
    message = body_of(outcome.responses[2])["message"]
    assert "batch_deadline_seconds" in message
    assert "retry" in message
    assert outcome.stats.texts == 3 + 1 + 1  # both rounds that ran are counted


def test_a_batch_of_short_requests_is_one_round_whatever_the_deadline(tiny_bert_dir, monkeypatch):
    capped = InferenceService.load(tiny_bert_dir, Settings(batch_deadline_seconds=1e-9))
    calls = []
    original = capped.classifier.score
    monkeypatch.setattr(capped.classifier, "score", lambda encoded: calls.append(len(encoded)) or original(encoded))

    outcome = capped.handle_batch([good(), good("two"), good("three")])

    assert [response.status for response in outcome.responses] == [200, 200, 200]
    assert calls == [3]


def test_a_batch_of_only_invalid_requests_does_not_call_the_classifier(service, monkeypatch):
    def must_not_run(encoded):
        raise AssertionError("score called")

    monkeypatch.setattr(service.classifier, "score", must_not_run)

    outcome = service.handle_batch([Request(b"{", "application/json"), Request(None, None)])

    assert [response.status for response in outcome.responses] == [400, 400]
    assert outcome.stats.texts == 0


def test_empty_batch_gives_no_responses(service):
    outcome = service.handle_batch([])

    assert outcome.responses == []
    assert not outcome.errors


def test_texts_of_all_requests_are_classified_in_one_call(service, monkeypatch):
    calls = []
    original = service.classifier.score

    def spy(encoded):
        calls.append([len(item.truncated) for item in encoded])
        return original(encoded)

    monkeypatch.setattr(service.classifier, "score", spy)
    requests = [
        Request(json.dumps({"data": ["one", "two"]}).encode(), "application/json"),
        Request(b"{", "application/json"),
        good("three"),
    ]

    outcome = service.handle_batch(requests)

    assert calls == [[2, 1]]  # one model call for both valid requests' texts
    assert len(body_of(outcome.responses[0])) == 2
    assert isinstance(body_of(outcome.responses[2]), dict)


def test_response_mirrors_the_request_shape(service):
    single = service.handle(Request(b'{"text": "one"}', "application/json"))
    listed = service.handle(Request(b'{"data": ["one", "two", "three"]}', "application/json"))

    assert isinstance(body_of(single), dict)
    assert set(body_of(single)) == {"label", "label_id", "score", "truncated"}
    assert [set(result) for result in body_of(listed)] == [{"label", "label_id", "score", "truncated"}] * 3


def test_list_results_are_in_request_order(service):
    texts = ["Stocks fell sharply.", "A very long and winding text about football " * 5, "AI chips"]

    listed = body_of(service.handle(Request(json.dumps({"data": texts}).encode(), "application/json")))

    for text, result in zip(texts, listed, strict=True):
        assert_same_result(result, body_of(service.handle(good(text))))


def test_request_parameters_top_k_and_all_scores(service):
    top2 = body_of(service.handle(Request(b'{"inputs": "x", "parameters": {"top_k": 2}}', "application/json")))
    everything = body_of(
        service.handle(Request(b'{"inputs": "x", "parameters": {"return_all_scores": true}}', "application/json"))
    )

    assert len(top2["scores"]) == 2
    assert top2["scores"][0]["label"] == top2["label"]
    assert sorted(entry["label"] for entry in everything["scores"]) == sorted(TINY_LABELS)


def test_settings_top_k_is_the_default(service):
    wider = InferenceService(service.classifier, Settings(top_k=3))

    assert len(body_of(wider.handle(good()))["scores"]) == 3
    assert "scores" not in body_of(service.handle(good()))


@pytest.mark.parametrize(
    ("request_", "content_type", "lines"),
    [
        (Request(b'"a"\n"b"\n"c"\n', "application/jsonlines"), "application/jsonlines", 3),
        (Request(b"a\nb\n", "text/csv"), "text/csv", 2),
        (Request(b'{"data": ["a", "b"]}', "application/json", accept="text/csv"), "text/csv", 2),
        (Request(b"a\nb\n", "text/csv", accept="application/jsonlines"), "application/jsonlines", 2),
    ],
)
def test_response_format_follows_request_and_accept(service, request_, content_type, lines):
    response = service.handle(request_)

    assert response.status == 200
    assert response.content_type == content_type
    assert len(response.body.decode().splitlines()) == lines


def test_text_plain_request_is_answered_as_one_json_object(service):
    response = service.handle(Request("one\ntext", "text/plain"))

    assert response.content_type == "application/json"
    assert isinstance(body_of(response), dict)


def test_empty_form_post_gets_a_content_type_hint(service):
    response = service.handle(Request(None, "application/x-www-form-urlencoded"))

    assert response.status == 400
    assert "Content-Type" in body_of(response)["message"]


def test_response_phrase(service):
    assert service.handle(good()).phrase == "OK"
    assert service.handle(Request(b"x", "image/png")).phrase == "Unsupported Media Type"


def test_warm_up_runs_a_prediction_without_logging_a_batch(service, monkeypatch, caplog):
    seen = []
    original = service.classifier.encode
    monkeypatch.setattr(
        service.classifier, "encode", lambda texts, pairs=(): seen.append(list(texts)) or original(texts, pairs)
    )

    with caplog.at_level(logging.INFO, logger=SERVICE_LOGGER):
        service.warm_up()

    assert seen == [[WARM_UP_TEXT]]
    assert "batch requests=" not in caplog.text


def test_warm_up_raises_when_the_prediction_fails(service, monkeypatch):
    def explode(encoded):
        raise RuntimeError("no")

    monkeypatch.setattr(service.classifier, "score", explode)

    with pytest.raises(RuntimeError, match="warm-up prediction failed"):
        service.warm_up()


def test_batch_log_line_has_the_counts_but_never_the_input_text(service, caplog):
    marker = "confidential-patient-name-zq"
    requests = [
        good(f"{marker} was discharged"),
        Request(f'{{"text": "{marker}", }}'.encode(), "application/json"),  # malformed JSON
        Request(f'{{"text": "{marker}", "extra": 1}}'.encode(), "application/json"),  # unknown field
        Request(f"{marker} plain".encode(), "text/plain"),
    ]

    with caplog.at_level(logging.DEBUG):
        outcome = service.handle_batch(requests)

    batch_lines = [record.getMessage() for record in caplog.records if "batch requests=" in record.getMessage()]
    assert len(batch_lines) == 1
    assert "requests=4" in batch_lines[0]
    assert "texts=2" in batch_lines[0]
    assert "errors=2" in batch_lines[0]
    assert marker not in caplog.text
    for response in outcome.responses[1:3]:
        assert marker.encode() not in response.body  # error messages do not echo the input either


def test_log_batch_false_suppresses_the_batch_line(service, caplog):
    with caplog.at_level(logging.INFO, logger=SERVICE_LOGGER):
        service.handle_batch([good(), Request(b"{", "application/json")], log_batch=False)

    assert "batch requests=" not in caplog.text


@pytest.mark.parametrize(
    ("batch_log", "clean", "with_error"), [("errors", False, True), ("all", True, True), ("off", False, False)]
)
def test_batch_log_decides_which_batches_get_a_line(tiny_bert_dir, caplog, batch_log, clean, with_error):
    service = InferenceService.load(tiny_bert_dir, Settings(batch_log=batch_log))
    logged = []
    for batch in ([good()], [good(), Request(b"{", "application/json")]):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=SERVICE_LOGGER):
            service.handle_batch(batch)
        logged.append("batch requests=" in caplog.text)
    assert logged == [clean, with_error]


def test_batch_stats_are_reported(service):
    outcome = service.handle_batch([good("one two three"), Request(b'["a", "b"]', "application/json")])

    assert outcome.stats.texts == 3
    assert outcome.stats.micro_batches >= 1
    assert outcome.stats.padded_tokens >= outcome.stats.real_tokens > 0


def test_error_response_keeps_serving_error_statuses():
    response = error_response(NotAcceptable("nope"))

    assert response.status == 406
    assert body_of(response) == {"code": 406, "type": "NotAcceptable", "message": "nope"}
    assert response.error_type == "NotAcceptable"
    assert error_response(InvalidInput("bad")).status == 400


def test_error_response_turns_any_other_exception_into_a_generic_500():
    response = error_response(KeyError("secret text"))

    assert response.status == 500
    assert body_of(response)["type"] == "InternalError"
    assert b"secret" not in response.body
    assert response.error_type == "InternalError"


def test_multi_label_model_returns_the_labels_over_the_threshold(tmp_path):
    model_dir = save_tiny_bert(tmp_path / "multi", seed=3, problem_type="multi_label_classification")
    settings = Settings(multi_label_threshold=0.5)
    service = InferenceService(TextClassifier.load(model_dir, settings), settings)
    request = {"data": ["Markets rallied.", "The striker scored twice.", "x"], "parameters": {"top_k": 3}}

    results = body_of(service.handle(Request(json.dumps(request).encode(), "application/json")))

    for result in results:
        over = [entry for entry in result["scores"] if entry["score"] >= 0.5]
        assert result["labels"] == over
    assert 0 < len(results[0]["labels"]) < len(TINY_LABELS)  # the threshold really splits the labels
    assert sum(result["score"] for result in results[0]["scores"]) != pytest.approx(1.0, abs=0.05)
