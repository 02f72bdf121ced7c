"""Property tests: the codecs never fail with anything but a `ServingError`, and encodings round-trip."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bert_classifier.codecs import ParsedRequest, choose_response_format, decode_request
from bert_classifier.codecs.csv_body import HEADER_NAMES
from bert_classifier.codecs.negotiation import CSV, JSON, JSON_LINES, REQUEST_TYPES, RESPONSE_TYPES, TEXT
from bert_classifier.errors import NotAcceptable, ServingError

pytestmark = pytest.mark.unit

MAX_TEXTS = 8
FAST = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ROUND_TRIP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CHARSET_NAMES = ["utf-8", "UTF-8", "latin-1", "utf-16", "ascii", "cp1252", "utf-7", '"utf-8"', ""]
NON_TEXT_OR_UNKNOWN_CHARSETS = ["hex", "base64", "rot13", "zlib", "idna", "punycode", "undefined", "xx", "a\x00b"]
CHARSETS = st.sampled_from(CHARSET_NAMES + NON_TEXT_OR_UNKNOWN_CHARSETS) | st.text(max_size=12)
MEDIA_TYPES = st.sampled_from(
    [
        *REQUEST_TYPES,
        "",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "image/png",
        "text/*",
    ]
) | st.text(max_size=20)
CONTENT_TYPES = st.one_of(
    st.none(),
    MEDIA_TYPES,
    st.builds(lambda kind, cs: f"{kind}; charset={cs}", MEDIA_TYPES, CHARSETS),
    st.text(max_size=40),
)
FIELD_NAMES = st.sampled_from(["data", "text", "inputs", "parameters", "top_k", "return_all_scores"]) | st.text(
    max_size=8
)
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(FIELD_NAMES, children, max_size=4),
    max_leaves=15,
)
MAX_BYTES = st.none() | st.integers(min_value=1, max_value=300)
NON_BLANK_TEXTS = st.text(min_size=1, max_size=40).filter(lambda text: text.strip())


def assert_well_formed(parsed: ParsedRequest) -> None:
    assert isinstance(parsed, ParsedRequest)
    assert isinstance(parsed.texts, tuple)
    assert 1 <= len(parsed.texts) <= MAX_TEXTS
    for text in parsed.texts:
        assert isinstance(text, str)
        assert text.strip()
    assert parsed.format in RESPONSE_TYPES
    if parsed.single:
        assert len(parsed.texts) == 1


def decodes_or_serving_error(body, content_type, max_bytes=None) -> ParsedRequest | None:
    try:
        parsed = decode_request(body, content_type, MAX_TEXTS, max_bytes)
    except ServingError as error:
        status = error.status
    else:
        assert_well_formed(parsed)
        return parsed
    assert 400 <= status < 500
    return None


@FAST
@given(body=st.binary(max_size=200), content_type=CONTENT_TYPES, max_bytes=MAX_BYTES)
@example(body=b"1" * 5000, content_type="application/json", max_bytes=None)
@example(body=b"abc", content_type="text/plain; charset=hex", max_bytes=None)
@example(body=b"abc-99999999999", content_type="text/plain; charset=punycode", max_bytes=None)
@example(body=b"x", content_type="text/plain; charset=undefined", max_bytes=None)
@example(body=b'"a\xe2\x80\xa8b"', content_type="application/jsonlines", max_bytes=None)
def test_arbitrary_bytes_decode_or_raise_a_serving_error(body, content_type, max_bytes):
    decodes_or_serving_error(body, content_type, max_bytes)


@FAST
@given(body=st.text(max_size=200), content_type=CONTENT_TYPES, max_bytes=MAX_BYTES)
def test_arbitrary_text_decodes_or_raises_a_serving_error(body, content_type, max_bytes):
    decodes_or_serving_error(body, content_type, max_bytes)


@FAST
@given(document=JSON_VALUES, content_type=CONTENT_TYPES, max_bytes=MAX_BYTES)
def test_arbitrary_pre_parsed_json_decodes_or_raises_a_serving_error(document, content_type, max_bytes):
    decodes_or_serving_error(document, content_type, max_bytes)


@FAST
@given(document=JSON_VALUES, content_type=st.sampled_from([None, "application/json", "application/jsonlines"]))
def test_arbitrary_serialised_json_decodes_or_raises_a_serving_error(document, content_type):
    decodes_or_serving_error(json.dumps(document).encode("utf-8"), content_type)


@FAST
@given(document=JSON_VALUES)
def test_pre_parsed_and_serialised_json_agree(document):
    body = json.dumps(document).encode("utf-8")
    try:
        from_bytes = decode_request(body, JSON, MAX_TEXTS)
    except ServingError as error:
        with pytest.raises(type(error)):
            decode_request(json.loads(body), JSON, MAX_TEXTS)
    else:
        if isinstance(document, (dict, list)):
            assert decode_request(json.loads(body), JSON, MAX_TEXTS) == from_bytes


@FAST
@given(texts=st.lists(NON_BLANK_TEXTS, min_size=1, max_size=MAX_TEXTS))
def test_json_data_list_round_trips(texts):
    parsed = decode_request(json.dumps({"data": texts}).encode("utf-8"), JSON, MAX_TEXTS)

    assert parsed.texts == tuple(texts)
    assert parsed.single is False


@FAST
@given(
    accept=st.one_of(
        st.text(max_size=60),
        st.lists(
            st.builds(
                lambda kind, q: kind + q,
                st.sampled_from([*REQUEST_TYPES, "*/*", "text/*", "application/*", "image/png", ""])
                | st.text(max_size=10),
                st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=abc", ";Q=0.2", ";q=nan", ";q=inf"])
                | st.text(max_size=6).map(lambda s: ";" + s),
            ),
            max_size=5,
        ).map(", ".join),
    ),
    request_format=st.sampled_from([JSON, JSON_LINES, CSV, TEXT]),
)
def test_choose_response_format_returns_a_response_type_or_406(accept, request_format):
    try:
        chosen = choose_response_format(accept, request_format)
    except NotAcceptable:
        chosen = None
    assert chosen is None or chosen in RESPONSE_TYPES


@ROUND_TRIP
@given(texts=st.lists(NON_BLANK_TEXTS, min_size=1, max_size=MAX_TEXTS), ensure_ascii=st.booleans())
def test_jsonlines_of_strings_round_trips(texts, ensure_ascii):
    body = "\n".join(json.dumps(text, ensure_ascii=ensure_ascii) for text in texts).encode("utf-8")

    parsed = decode_request(body, JSON_LINES, MAX_TEXTS)

    assert parsed.texts == tuple(texts)
    assert parsed.format == JSON_LINES


@ROUND_TRIP
@given(
    texts=st.lists(NON_BLANK_TEXTS, min_size=1, max_size=MAX_TEXTS),
    field=st.sampled_from(["data", "text", "inputs"]),
    line_end=st.sampled_from(["\n", "\r\n"]),
)
def test_jsonlines_of_objects_round_trips(texts, field, line_end):
    body = "".join(json.dumps({field: text}, ensure_ascii=False) + line_end for text in texts).encode("utf-8")

    assert decode_request(body, JSON_LINES, MAX_TEXTS).texts == tuple(texts)


def to_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8")


@ROUND_TRIP
@given(texts=st.lists(NON_BLANK_TEXTS, min_size=1, max_size=MAX_TEXTS))
def test_csv_single_column_without_header_round_trips(texts):
    # A single-column body whose first cell is a header name *is* a header: that one is ambiguous by design.
    if texts[0].strip().lower() in HEADER_NAMES:
        texts = ["not a header", *texts[1:]]

    parsed = decode_request(to_csv([[text] for text in texts]), CSV, MAX_TEXTS)

    assert parsed.texts == tuple(texts)
    assert parsed.format == CSV


@ROUND_TRIP
@given(
    rows=st.lists(st.tuples(st.text(max_size=10), NON_BLANK_TEXTS), min_size=1, max_size=MAX_TEXTS),
    header=st.sampled_from(["text", "Text", "inputs", "data"]),
)
def test_csv_with_header_round_trips_the_text_column(rows, header):
    body = to_csv([["id", header], *([other, text] for other, text in rows)])

    assert decode_request(body, CSV, MAX_TEXTS).texts == tuple(text for _, text in rows)


@ROUND_TRIP
@given(text=NON_BLANK_TEXTS.filter(lambda text: not text.startswith("\ufeff")))
def test_text_plain_round_trips(text):
    parsed = decode_request(text.encode("utf-8"), "text/plain; charset=utf-8", MAX_TEXTS)

    assert parsed.texts == (text,)
    assert parsed.single is True
