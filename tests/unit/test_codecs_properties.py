"""Property tests: what clients send (lone surrogates and bytes that are not UTF-8 included) always gets a 2xx or
a 4xx whose body is valid UTF-8 JSON, JSON lines or CSV, through the real service path; encodings round-trip."""

from __future__ import annotations

import csv
import io
import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bert_classifier.codecs import ParsedRequest, choose_response_format, decode_request, encode_results
from bert_classifier.codecs.csv_body import HEADER_NAMES
from bert_classifier.codecs.negotiation import CSV, JSON, JSON_LINES, REQUEST_TYPES, RESPONSE_TYPES, TEXT
from bert_classifier.errors import NotAcceptable, ServingError
from bert_classifier.messages import Request, Response, error_response
from bert_classifier.service import InferenceService
from bert_classifier.settings import Settings

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


RESULT = {"label": "sport", "label_id": 1, "score": 0.5, "truncated": False}


def assert_valid_response(response: Response) -> None:
    """A client's request got a 2xx or 4xx whose body is strict UTF-8 (no lone surrogate, no stray byte) in the
    format its Content-Type names: JSON (every error: ours, or KServe's and OIP's `{"error"}` for a body that spoke
    theirs), JSON lines, or CSV of `label,label_id,score`."""
    assert 200 <= response.status < 500, response.body
    text = response.body.decode("utf-8")  # strict
    if response.content_type == CSV:
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows
        assert all(len(row) == 3 and row[1].isdigit() for row in rows), rows
        return
    assert response.content_type in (JSON, JSON_LINES)
    assert response.content_type == JSON or text.endswith("\n")
    documents = (
        [json.loads(line) for line in text.split("\n")[:-1]]
        if response.content_type == JSON_LINES
        else [json.loads(text)]
    )
    for document in documents:
        json.dumps(document, ensure_ascii=False).encode("utf-8")  # no lone surrogate hidden in a \u escape
    if response.status >= 400:
        [error] = documents
        if set(error) == {"error"}:
            assert isinstance(error["error"], str)
            assert error["error"]
        else:
            assert set(error) == {"code", "type", "message"}
            assert error["code"] == response.status


def decodes_or_serving_error(body, content_type, max_bytes=None) -> ParsedRequest | None:
    """Decode; encode the answer the service would give (an error through `error_response`, results through
    `encode_results` in the negotiated format) and check it."""
    try:
        parsed = decode_request(body, content_type, MAX_TEXTS, max_bytes)
    except ServingError as error:
        assert_valid_response(error_response(error))
        return None
    assert_well_formed(parsed)
    results = [RESULT] * len(parsed.texts)
    body, media = encode_results(results, parsed.single, choose_response_format(None, parsed.format))
    assert_valid_response(Response(200, body, media))
    return parsed


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
@example(document={"inputs": [{}]}, content_type=None, max_bytes=None)  # an OIP body: its error is OIP's
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


# --- What real clients send, through `InferenceService` on the tiny model ------------------------------------------

SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
ANY_TEXT = st.text(st.characters(exclude_categories=()), min_size=1, max_size=20)
CLIENT_TEXT = ANY_TEXT | st.builds(lambda before, lone, after: before + lone + after, ANY_TEXT, SURROGATES, ANY_TEXT)
"""Any code point, often a lone surrogate (JSON clients send them as `\\ud800` escapes)."""
CLIENT_NAMES = FIELD_NAMES | CLIENT_TEXT.map(lambda text: text[:8])
PARAMETERS = st.fixed_dictionaries(
    {},
    optional={"top_k": st.integers(-1, 5) | st.text(max_size=2), "return_all_scores": st.booleans() | st.none()},
) | st.dictionaries(CLIENT_NAMES, JSON_SCALARS, max_size=2)
TEXT_OR_TEXTS = CLIENT_TEXT | st.lists(CLIENT_TEXT, max_size=MAX_TEXTS + 1)
CLIENT_DOCUMENTS = st.one_of(
    st.builds(lambda texts: {"data": texts}, TEXT_OR_TEXTS),
    st.builds(lambda text: {"text": text}, CLIENT_TEXT),
    st.builds(lambda texts, parameters: {"inputs": texts, "parameters": parameters}, TEXT_OR_TEXTS, PARAMETERS),
    TEXT_OR_TEXTS,
    st.dictionaries(CLIENT_NAMES, JSON_VALUES, max_size=3),
)


def wire(text: str, encoding: str = "utf-8") -> bytes:
    """`text` as a careless client puts it on the wire: a lone surrogate becomes bytes no UTF decoder accepts."""
    return text.encode(encoding, "surrogatepass")


def json_wire(document: object, escaped: bool) -> str:
    return json.dumps(document, ensure_ascii=escaped)  # escaped: `\ud800`; else the raw code point


def csv_wire(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


JSON_BODIES = st.tuples(
    st.builds(lambda document, escaped: wire(json_wire(document, escaped)), CLIENT_DOCUMENTS, st.booleans()),
    st.sampled_from([JSON, "application/json; charset=utf-8", "text/json", None, "application/octet-stream"]),
)
JSONLINES_BODIES = st.tuples(
    st.builds(
        lambda lines, escaped: wire("\n".join(json_wire(line, escaped) for line in lines)),
        st.lists(CLIENT_TEXT | st.builds(lambda text: {"text": text}, CLIENT_TEXT) | JSON_VALUES, max_size=4),
        st.booleans(),
    ),
    st.sampled_from([JSON_LINES, "application/x-ndjson", "application/jsonl"]),
)
CSV_BODIES = st.tuples(
    st.builds(lambda rows: wire(csv_wire(rows)), st.lists(st.lists(CLIENT_TEXT, min_size=1, max_size=2), max_size=4)),
    st.sampled_from([CSV, "text/csv; charset=utf-8"]),
)
TEXT_BODIES = st.builds(
    lambda text, encoding: (wire(text, encoding), f"text/plain; charset={encoding}"),
    CLIENT_TEXT,
    st.sampled_from(["utf-8", "utf-16", "utf-32-le"]),
) | st.tuples(CLIENT_TEXT.map(wire), st.sampled_from([TEXT, None, "text/plain; charset=latin-1", "image/png"]))
NOT_UTF8 = st.sampled_from([b"\xff", b"\x80", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\x00"])


@st.composite
def client_requests(draw) -> tuple[bytes, str | None]:
    """A body and Content-Type as clients send them, sometimes with bytes that are not UTF-8 spliced in."""
    body, content_type = draw(st.one_of(JSON_BODIES, JSONLINES_BODIES, CSV_BODIES, TEXT_BODIES))
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(NOT_UTF8) + body[at:]
    return body, content_type


ACCEPTS = st.sampled_from([None, "*/*", JSON, JSON_LINES, CSV, "text/html", "application/json;q=0, text/csv"])
CLIENTS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BATCHES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def service(tiny_bert_dir) -> InferenceService:
    return InferenceService.load(
        tiny_bert_dir, Settings(max_texts_per_request=MAX_TEXTS, max_request_bytes=4000, precision="fp32")
    )


@CLIENTS
@given(client_request=client_requests(), accept=ACCEPTS)
@example(client_request=(b'{"text": "\\ud800"}', JSON), accept=None)
@example(client_request=(b'{"\\ud800": 1}', JSON), accept=None)
@example(client_request=(b'{"data": ["ok"], "parameters": {"\\udfff": 1}}', JSON), accept=CSV)
@example(client_request=(b'{"text": "caf\xed\xa0\x80"}', JSON), accept=None)
@example(client_request=('"\ud800"\n'.encode("utf-8", "surrogatepass"), JSON_LINES), accept=JSON_LINES)
@example(client_request=(b"\xff\xfe", "text/plain; charset=\xff"), accept=None)
def test_what_clients_send_gets_a_2xx_or_4xx_with_a_valid_body(service, client_request, accept):
    body, content_type = client_request
    assert_valid_response(service.handle(Request(body, content_type, accept)))


@BATCHES
@given(batch=st.lists(st.tuples(client_requests(), ACCEPTS), min_size=1, max_size=4))
def test_a_batch_of_client_requests_answers_each_validly_and_its_good_request_still_succeeds(service, batch):
    good = Request(b'{"data": ["Markets rallied."]}', JSON)
    outcome = service.handle_batch(
        [Request(body, content_type, accept) for (body, content_type), accept in batch] + [good]
    )
    for response in outcome.responses:
        assert_valid_response(response)
    assert outcome.responses[-1].status == 200
