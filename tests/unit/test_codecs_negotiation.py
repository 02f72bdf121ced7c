"""Content-Type parsing and Accept negotiation."""

from __future__ import annotations

import pytest

from bert_classifier.codecs import choose_response_format, media_type
from bert_classifier.codecs.negotiation import CSV, JSON, JSON_LINES, TEXT, charset
from bert_classifier.errors import NotAcceptable

pytestmark = pytest.mark.unit

RESPONSE_FORMATS = [JSON, JSON_LINES, CSV]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, ""),
        ("", ""),
        ("text/csv", "text/csv"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("  Application/JSON ;charset=UTF-8", "application/json"),
        ("application/jsonlines;", "application/jsonlines"),
    ],
)
def test_media_type_is_the_bare_lower_case_type(header, expected):
    assert media_type(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "utf-8"),
        ("text/plain", "utf-8"),
        ("text/plain; charset=", "utf-8"),
        ("text/plain; charset=ISO-8859-1", "iso-8859-1"),
        ('text/plain; charset="utf-16"', "utf-16"),
        ("text/plain; format=flowed; Charset = latin-1 ", "latin-1"),
        ("text/plain; notcharset=latin-1", "utf-8"),
    ],
)
def test_charset_parameter_with_utf8_default(header, expected):
    assert charset(header) == expected


@pytest.mark.parametrize("accept", [None, "", "   ", "*/*", "*/*;q=0.8"])
@pytest.mark.parametrize("request_format", RESPONSE_FORMATS)
def test_missing_or_wildcard_accept_answers_in_the_request_format(accept, request_format):
    assert choose_response_format(accept, request_format) == request_format


@pytest.mark.parametrize("accept", [None, "*/*", "application/*"])
def test_text_plain_request_is_answered_as_json_when_anything_goes(accept):
    assert choose_response_format(accept, TEXT) == JSON


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json", JSON),
        ("application/jsonlines", JSON_LINES),
        ("text/csv", CSV),
        ("Text/CSV", CSV),
        ("text/csv; charset=utf-8", CSV),
    ],
)
@pytest.mark.parametrize("request_format", RESPONSE_FORMATS)
def test_explicit_accept_wins_over_the_request_format(accept, expected, request_format):
    assert choose_response_format(accept, request_format) == expected


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("text/json", JSON),
        ("application/jsonl", JSON_LINES),
        ("application/x-jsonlines", JSON_LINES),
        ("application/x-ndjson", JSON_LINES),
        ("application/ndjson", JSON_LINES),
    ],
)
def test_accept_aliases_map_to_the_canonical_type(alias, canonical):
    assert choose_response_format(alias, CSV if canonical != CSV else JSON) == canonical


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/json;q=0.5, text/csv", CSV),
        ("text/csv;q=0.2, application/jsonlines;q=0.9", JSON_LINES),
        ("text/csv;q=0.9, application/jsonlines;q=0.9", CSV),  # equal quality: listed order
        ("application/xml, text/csv;q=0.1", CSV),  # the first one we cannot produce is skipped
        ("text/csv;q=0.5, */*;q=0.1", CSV),
        ("*/*;q=0.1, text/csv;q=0.5", CSV),
        ("application/json;Q=0.1, text/csv;q=0.9", CSV),  # parameter names are case-insensitive
        ("text/csv;level=1;q=0.3, application/json;q=0.4", JSON),
    ],
)
def test_q_values_order_the_preferences(accept, expected):
    assert choose_response_format(accept, JSON_LINES if expected != JSON_LINES else JSON) == expected


@pytest.mark.parametrize("accept", ["text/csv;q=0", "text/csv;q=abc", "text/csv;q=-1", "text/plain, text/csv;q=0.0"])
def test_types_with_q_zero_or_an_invalid_q_are_not_acceptable(accept):
    with pytest.raises(NotAcceptable):
        choose_response_format(accept, CSV)


def test_wildcard_does_not_pick_a_type_refused_with_q_zero():
    assert choose_response_format("application/json;q=0, */*", JSON) == JSON_LINES
    assert choose_response_format("text/csv;q=0, */*", CSV) == JSON


def test_type_wildcards_pick_a_type_of_that_kind():
    assert choose_response_format("text/*", JSON) == CSV
    assert choose_response_format("text/*", CSV) == CSV
    assert choose_response_format("application/*", CSV) == JSON
    assert choose_response_format("application/*", JSON_LINES) == JSON_LINES


@pytest.mark.parametrize(
    "accept", ["text/plain", "application/xml", "image/*", "text/html, application/xhtml+xml", "text/*;q=0"]
)
def test_unsupported_accept_is_a_406_listing_what_is_available(accept):
    with pytest.raises(NotAcceptable) as raised:
        choose_response_format(accept, JSON)

    assert raised.value.status == 406
    assert accept in raised.value.message
    for available in RESPONSE_FORMATS:
        assert available in raised.value.message


def test_not_acceptable_message_truncates_a_huge_accept_header():
    accept = "application/x-" + "a" * 5000

    with pytest.raises(NotAcceptable) as raised:
        choose_response_format(accept, JSON)

    assert len(raised.value.message) < 400


@pytest.mark.parametrize("accept", [",", ";q=1", " , ;"])
def test_accept_with_only_empty_items_is_a_406(accept):
    with pytest.raises(NotAcceptable):
        choose_response_format(accept, CSV)


def test_empty_items_in_accept_are_skipped():
    assert choose_response_format(",, ;q=1, */*", CSV) == CSV
