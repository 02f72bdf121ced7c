"""`decode_request`: every accepted request shape, and the typed error (and status) for every bad one."""

from __future__ import annotations

import json
import time

import pytest

from bert_classifier.codecs import ParsedRequest, RequestParameters, decode_request
from bert_classifier.codecs.negotiation import CSV, JSON, JSON_LINES
from bert_classifier.errors import InvalidInput, PayloadTooLarge, ServingError, UnsupportedMediaType

pytestmark = pytest.mark.unit

MAX_TEXTS = 64


def decode(body, content_type: str | None = "application/json", max_texts: int = MAX_TEXTS) -> ParsedRequest:
    return decode_request(body, content_type, max_texts)


def as_json(document) -> bytes:
    return json.dumps(document).encode("utf-8")


# --- application/json -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "texts", "single"),
    [
        ({"data": "one text"}, ("one text",), True),
        ({"data": ["first", "second"]}, ("first", "second"), False),
        ({"data": ["only"]}, ("only",), False),
        ({"text": "one text"}, ("one text",), True),
        ({"inputs": "one text"}, ("one text",), True),
        ({"inputs": ["a b", "c d"]}, ("a b", "c d"), False),
        ("a bare string", ("a bare string",), True),
        (["a", "bare", "list"], ("a", "bare", "list"), False),
    ],
)
def test_json_shapes_give_their_texts_and_singleness(document, texts, single):
    parsed = decode(as_json(document))

    assert parsed == ParsedRequest(texts, single, JSON, RequestParameters())


@pytest.mark.parametrize("document", [{"text": "pre-parsed"}, {"data": ["pre-parsed"]}, ["pre-parsed"]])
def test_json_already_parsed_by_the_model_server_is_accepted(document):
    # TorchServe hands over a dict (or list) for application/json bodies.
    assert decode(document).texts == ("pre-parsed",)


def test_pre_parsed_dict_and_bytes_decode_identically():
    document = {"inputs": ["x", "y"], "parameters": {"top_k": 2}}

    assert decode(document) == decode(as_json(document))


def test_inputs_with_parameters_top_k_and_return_all_scores():
    parsed = decode(as_json({"inputs": ["a", "b"], "parameters": {"top_k": 2, "return_all_scores": True}}))

    assert parsed.texts == ("a", "b")
    assert parsed.parameters == RequestParameters(top_k=2, return_all_scores=True)


@pytest.mark.parametrize("parameters", [None, {}])
def test_missing_or_empty_parameters_mean_defaults(parameters):
    parsed = decode(as_json({"text": "x", "parameters": parameters}))

    assert parsed.parameters == RequestParameters(top_k=None, return_all_scores=False)


def test_parameters_work_with_the_text_and_data_fields():
    assert decode(as_json({"text": "x", "parameters": {"top_k": 3}})).parameters.top_k == 3
    assert decode(as_json({"data": "x", "parameters": {"return_all_scores": True}})).parameters.return_all_scores


def test_json_strings_keep_unicode_and_whitespace_inside_the_text():
    parsed = decode(json.dumps({"text": "  Grüße, 世界!\n"}, ensure_ascii=False).encode("utf-8"))

    assert parsed.texts == ("  Grüße, 世界!\n",)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/json",
        "Application/JSON",
        "application/json; charset=utf-8",
        " application/json ",
    ],
)
def test_json_content_type_aliases_case_and_parameters(content_type):
    assert decode(b'{"text": "x"}', content_type).format == JSON


# --- text/plain ---------------------------------------------------------------------------------------------


def test_text_plain_str_body_is_one_text_answered_as_json():
    parsed = decode("first line\nsecond line, with comma", "text/plain")

    assert parsed == ParsedRequest(("first line\nsecond line, with comma",), True, JSON)


def test_text_plain_bytes_body_is_one_text():
    assert decode("naïve café".encode(), "text/plain").texts == ("naïve café",)


def test_text_plain_that_looks_like_json_is_not_parsed():
    assert decode(b'{"text": "x"}', "text/plain").texts == ('{"text": "x"}',)


# --- sniffing: no Content-Type or a generic one -------------------------------------------------------------


@pytest.mark.parametrize("content_type", [None, "", "application/octet-stream", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize(
    ("body", "texts", "single"),
    [
        (b'{"text": "json object"}', ("json object",), True),
        (b'  \n["json", "list"]', ("json", "list"), False),
        (b'"json string"', ("json string",), True),
        (b"plain text, not JSON", ("plain text, not JSON",), True),
        ("plain str body", ("plain str body",), True),
        ('{"data": ["str json"]}', ("str json",), False),
    ],
)
def test_missing_or_generic_content_type_sniffs_json_or_text(body, content_type, texts, single):
    parsed = decode(body, content_type)

    assert parsed.texts == texts
    assert parsed.single is single
    assert parsed.format == JSON


def test_sniffing_sees_json_after_a_byte_order_mark():
    assert decode(b'\xef\xbb\xbf{"text": "x"}', None).texts == ("x",)


def test_sniffing_a_pre_parsed_dict_treats_it_as_json():
    assert decode({"text": "x"}, None).texts == ("x",)


def test_sniffed_json_that_is_malformed_is_a_400():
    with pytest.raises(InvalidInput, match="malformed JSON"):
        decode(b'{"text": ', "application/octet-stream")


# --- application/jsonlines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/jsonlines",
        "application/jsonl",
        "application/x-jsonlines",
        "application/x-ndjson",
        "application/ndjson",
    ],
)
def test_jsonlines_aliases_decode_strings_and_objects_per_line(content_type):
    body = b'"plain string"\n{"text": "object text"}\n{"data": "data field"}\n{"inputs": "inputs field"}\n'

    parsed = decode(body, content_type)

    assert parsed == ParsedRequest(("plain string", "object text", "data field", "inputs field"), False, JSON_LINES)


def test_jsonlines_skips_blank_lines_and_accepts_crlf():
    parsed = decode(b'\n"a"\r\n   \r\n\t\n"b"\r\n\r\n', "application/jsonlines")

    assert parsed.texts == ("a", "b")


def test_jsonlines_single_line_is_still_a_list():
    assert decode(b'"only"', "application/jsonlines").single is False


def test_jsonlines_keeps_unicode_line_separators_inside_strings():
    # json.dumps(ensure_ascii=False) and JavaScript leave U+2028/U+0085 unescaped: they do not end a line.
    body = "\n".join(json.dumps(text, ensure_ascii=False) for text in ["a\u2028b", "c\x85d", "e\x1cf"])

    assert decode(body.encode(), "application/jsonlines").texts == ("a\u2028b", "c\x85d", "e\x1cf")


@pytest.mark.parametrize(
    ("body", "line", "problem"),
    [
        (b'"ok"\n"also ok"\n{broken\n', 3, "malformed JSON"),
        (b'"ok"\n\n42\n', 3, "a number"),
        (b'["a list"]\n', 1, "a list"),
        (b'"ok"\n{"text": 5}\n', 2, "an object"),
        (b'{"text": "a", "data": "b"}\n', 1, "one string field"),
        (b'{"other": "a"}\n', 1, "one string field"),
        (b'"ok"\r\n"ok"\r\nnull\r\n', 3, "null"),
        (b'\n\r\n  \r"ok"\n\t\n  {broken', 6, "malformed JSON"),  # blank lines of every ending count
        (b"\r\r\r\r 7 \r", 5, "a number"),
    ],
)
def test_jsonlines_error_names_the_line(body, line, problem):
    with pytest.raises(InvalidInput, match=f"^line {line}: ") as raised:
        decode(body, "application/jsonlines")

    assert problem in raised.value.message
    assert raised.value.status == 400


@pytest.mark.parametrize("blank", [b"\n", b"\r\n", b" \t\n"])
def test_jsonlines_of_6_mib_of_blank_lines_costs_milliseconds_not_a_second(blank):
    # Read line by line in Python, 6M blank lines held a worker for about 1.1 s of CPU to answer this 400.
    lines = 6 * 1024 * 1024 // len(blank)
    started = time.process_time()
    with pytest.raises(InvalidInput, match=f"^line {lines + 1}: malformed JSON"):
        decode(blank * lines + b"{broken", "application/jsonlines")
    assert time.process_time() - started < 0.25


def test_jsonlines_empty_text_line_is_reported_by_index():
    with pytest.raises(InvalidInput, match="text 1 is empty"):
        decode(b'"a"\n"   "\n', "application/jsonlines")


# --- text/csv -----------------------------------------------------------------------------------------------


def test_csv_without_header_is_one_text_per_row():
    parsed = decode(b"first text\nsecond text\n", "text/csv")

    assert parsed == ParsedRequest(("first text", "second text"), False, CSV)


@pytest.mark.parametrize("header", ["text", "Text", " TEXT ", "inputs", "data"])
def test_csv_header_names_the_text_column(header):
    body = f"id,{header},lang\n1,hello there,en\n2,bonjour,fr\n".encode()

    assert decode(body, "text/csv").texts == ("hello there", "bonjour")


def test_csv_header_picks_text_over_other_known_names():
    assert decode(b"data,text\nnot this,this\n", "text/csv").texts == ("this",)


def test_csv_quoted_fields_may_contain_commas_quotes_and_newlines():
    body = b'"one, with comma"\n"two\nlines"\n"say ""hi"""\n'

    assert decode(body, "text/csv").texts == ("one, with comma", "two\nlines", 'say "hi"')


def test_csv_blank_rows_are_skipped_and_crlf_accepted():
    assert decode(b"a\r\n\r\nb\r\n\r\n", "text/csv").texts == ("a", "b")


def test_csv_row_with_two_fields_and_no_header_names_the_row():
    with pytest.raises(InvalidInput, match="CSV row 2 has 2 fields") as raised:
        decode(b"fine\nnot, fine\n", "text/csv")

    assert "quote" in raised.value.message


def test_csv_row_missing_the_text_column_names_the_row():
    with pytest.raises(InvalidInput, match="CSV row 3 has no field 2"):
        decode(b"id,text\n1,ok\n2\n", "text/csv")


def test_csv_with_only_a_header_has_no_texts():
    with pytest.raises(InvalidInput, match="no texts"):
        decode(b"text\n", "text/csv")


@pytest.mark.parametrize(
    ("body", "line"),
    [(b'ok\n"never closed, still\nmore rows\n', 3), (b'ok\n"closed" then more\n', 2)],
)
def test_csv_quoting_mistakes_are_a_400_naming_the_line_not_rows_merged_into_one_text(body, line):
    # A lenient reader would swallow every later row into one text: fewer answers than input lines, which
    # misaligns SageMaker Batch Transform's line-by-line join.
    with pytest.raises(InvalidInput, match=f"malformed CSV at line {line}"):
        decode(body, "text/csv")


def test_csv_field_over_the_size_limit_is_a_400():
    with pytest.raises(InvalidInput, match="malformed CSV"):
        decode(b"x" * 200_000, "text/csv")


# --- charset and BOM ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain; charset=iso-8859-1", 'text/plain; charset="ISO-8859-1"', "text/plain;CHARSET=latin-1"],
)
def test_charset_parameter_decodes_the_body(content_type):
    assert decode("café".encode("latin-1"), content_type).texts == ("café",)


def test_charset_applies_to_json_and_csv_too():
    assert decode('{"text": "Grüße"}'.encode("utf-16"), "application/json; charset=utf-16").texts == ("Grüße",)
    assert decode("text\nÆble\n".encode("cp1252"), "text/csv; charset=cp1252").texts == ("Æble",)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'\xef\xbb\xbf{"text": "x"}', "application/json"),
        (b"\xef\xbb\xbfx", "text/plain"),
        (b'\xef\xbb\xbf"x"\n', "application/jsonlines"),
        (b"\xef\xbb\xbftext\nx\n", "text/csv"),
        ('\ufeff{"text": "x"}', "application/json"),
    ],
)
def test_byte_order_mark_is_stripped(body, content_type):
    assert decode(body, content_type).texts == ("x",)


def test_invalid_utf8_is_a_400_naming_the_offset():
    with pytest.raises(InvalidInput, match=r"not valid utf-8.*offset 4") as raised:
        decode(b"abcd\xff\xfe", "text/plain")

    assert raised.value.status == 400


def test_latin1_bytes_without_charset_are_invalid_utf8():
    with pytest.raises(InvalidInput, match="utf-8"):
        decode('{"text": "café"}'.encode("latin-1"), "application/json")


@pytest.mark.parametrize(
    "charset",
    ["klingon", "hex", "base64", "rot13", "zlib", "a\x00b", "punycode", "idna", "utf-7", "undefined", "mbcs", "cp037"],
)
def test_a_charset_outside_the_allow_list_is_a_415_even_if_python_knows_it(charset):
    with pytest.raises(UnsupportedMediaType, match="charset") as raised:
        decode(b"abc", f"text/plain; charset={charset}")

    assert raised.value.status == 415


@pytest.mark.parametrize(
    "charset", ["utf-8", "UTF8", "utf-16", "utf-16le", "UTF-16BE", "utf-32", "us-ascii", "latin-1", "windows-1252"]
)
def test_every_allowed_charset_and_its_aliases_decode(charset):
    assert decode("Shares fell.".encode(charset), f"text/plain; charset={charset}").texts == ("Shares fell.",)


def test_a_quadratic_codec_is_refused_before_it_decodes_anything():
    body = b"x-" + b"9" * 1_000_000  # punycode took seconds on this, and a 1 MB body ran past responseTimeout
    with pytest.raises(UnsupportedMediaType):
        decode(body, "application/octet-stream; charset=punycode")


def test_an_unsupported_charset_is_quoted_short_and_escaped_in_the_message():
    with pytest.raises(UnsupportedMediaType) as raised:
        decode(b"abc", "text/plain; charset=\udcff" + "x" * 500)

    assert len(raised.value.message) < 300
    raised.value.message.encode("ascii")  # escaped: always encodable


# --- bad input: typed errors and statuses -------------------------------------------------------------------


def test_malformed_json_names_the_position_not_the_content():
    with pytest.raises(InvalidInput, match=r"malformed JSON: .* \(line 1 column \d+\)") as raised:
        decode(b'{"text": "secret content", }')

    assert "secret" not in raised.value.message
    assert raised.value.status == 400


def test_malformed_json_message_reads_well_when_the_parser_message_ends_in_at():
    with pytest.raises(InvalidInput) as raised:
        decode(b'{"data": ["unterminated')

    assert raised.value.message == "malformed JSON: Unterminated string starting at (line 1 column 11)"


def test_json_nested_too_deeply_is_a_400():
    with pytest.raises(InvalidInput, match="nested too deeply"):
        decode(b"[" * 100_000)


def test_json_integer_too_long_to_convert_is_a_400():
    with pytest.raises(InvalidInput, match="malformed JSON"):
        decode(b'{"text": "x", "parameters": {"top_k": ' + b"1" * 5000 + b"}}")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"text": ""}, "text 0 is empty"),
        ({"text": " \t\n "}, "text 0 is empty"),
        ({"data": ["fine", "   "]}, "text 1 is empty"),
        ("", "text 0 is empty"),
        ({"data": []}, "no texts"),
        ([], "no texts"),
        ({"inputs": []}, "no texts"),
    ],
)
def test_empty_or_whitespace_texts_are_a_400(document, message):
    with pytest.raises(InvalidInput, match=message):
        decode(as_json(document))


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "text/plain"),
        (b"   \n", "text/plain"),
        (b"", None),
        ("", "text/plain"),
        (b"", "application/json"),
        (b"\n\n", "application/jsonlines"),
        (b"\r\n", "text/csv"),
    ],
)
def test_empty_or_blank_body_is_a_400(body, content_type):
    with pytest.raises(InvalidInput, match="the request body is empty"):
        decode(body, content_type)


def test_body_whose_only_text_is_empty_names_the_text():
    with pytest.raises(InvalidInput, match="text 0 is empty"):
        decode(b"\xef\xbb\xbf", "text/plain")  # not blank as bytes, but nothing once the BOM is dropped


@pytest.mark.parametrize(
    ("document", "where", "kind"),
    [
        ({"data": ["ok", 3]}, r"data\[1\]", "a number"),
        ({"inputs": ["ok", "ok", None]}, r"inputs\[2\]", "null"),
        (["ok", ["nested"]], r"body\[1\]", "a list"),
        ([{"text": "x"}], r"body\[0\]", "an object"),
        ({"data": [True]}, r"data\[0\]", "a boolean"),
    ],
)
def test_non_string_item_is_a_400_naming_its_index(document, where, kind):
    with pytest.raises(InvalidInput, match=f"{where} must be a string or a text pair object, got {kind}"):
        decode(as_json(document))


def test_unknown_field_is_a_400_naming_it():
    with pytest.raises(InvalidInput, match=r"unknown field.*sentence") as raised:
        decode(as_json({"text": "x", "sentence": "y"}))

    assert "allowed" in raised.value.message


@pytest.mark.parametrize(
    "document",
    [{"text": "a", "data": "b"}, {"data": ["a"], "inputs": ["b"]}, {"parameters": {"top_k": 1}}, {}],
)
def test_not_exactly_one_text_field_is_a_400(document):
    with pytest.raises(InvalidInput, match="exactly one of the fields"):
        decode(as_json(document))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"text": ["a list"]}, "field 'text' must be a string, got a list"),
        ({"data": 5}, "field 'data' must be a string, a text pair object or a list of them, got a number"),
        ({"inputs": {"text": "x"}}, "inputs must be a string or a text pair object, got an object"),
        ({"text": None}, "field 'text' must be a string, got null"),
    ],
)
def test_text_field_of_the_wrong_type_is_a_400(document, message):
    with pytest.raises(InvalidInput, match=message):
        decode(as_json(document))


@pytest.mark.parametrize("document", [42, 4.5, True, None])
def test_json_scalar_that_is_not_a_string_is_a_400(document):
    with pytest.raises(InvalidInput, match="expected a JSON object, string or list of strings"):
        decode(as_json(document))


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (["top_k", 2], "'parameters' must be a JSON object, got a list"),
        ("top_k=2", "'parameters' must be a JSON object, got a string"),
        ({"temperature": 0.5}, "unknown parameter.*temperature"),
        ({"top_k": 0}, "'top_k' must be a positive integer"),
        ({"top_k": -2}, "'top_k' must be a positive integer"),
        ({"top_k": "2"}, "'top_k' must be a positive integer"),
        ({"top_k": 1.5}, "'top_k' must be a positive integer"),
        ({"top_k": True}, "'top_k' must be a positive integer"),
        ({"return_all_scores": "yes"}, "'return_all_scores' must be true or false"),
        ({"return_all_scores": 1}, "'return_all_scores' must be true or false"),
    ],
)
def test_wrong_parameters_are_a_400(parameters, message):
    with pytest.raises(InvalidInput, match=message):
        decode(as_json({"inputs": ["x"], "parameters": parameters}))


@pytest.mark.parametrize(
    "content_type", ["image/png", "application/xml", "multipart/form-data; boundary=x", "text/html", "json"]
)
def test_unsupported_content_type_is_a_415_naming_it(content_type):
    with pytest.raises(UnsupportedMediaType) as raised:
        decode(b'{"text": "x"}', content_type)

    assert raised.value.status == 415
    assert repr(content_type.split(";")[0]) in raised.value.message
    assert "application/json" in raised.value.message  # lists what is supported


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (as_json({"data": ["t"] * 4}), "application/json"),
        (b'"t"\n' * 4, "application/jsonlines"),
        (b"t\n" * 4, "text/csv"),
    ],
)
def test_too_many_texts_is_a_413(body, content_type):
    with pytest.raises(PayloadTooLarge, match=r"more than 3 texts.*limit is 3") as raised:
        decode(body, content_type, max_texts=3)

    assert raised.value.status == 413


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b'"t"\n' * 4 + b"{malformed\n", "application/jsonlines"), (b"t\n" * 4 + b'"unterminated\n', "text/csv")],
)
def test_rows_are_read_only_until_the_text_limit_is_passed(body, content_type):
    """A malformed row after the limit is never reached: the 413 comes first, so 10^5 rows cost 4."""
    with pytest.raises(PayloadTooLarge):
        decode(body, content_type, max_texts=3)


def test_exactly_max_texts_is_accepted():
    assert len(decode(as_json({"data": ["t"] * 3}), max_texts=3).texts) == 3


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"x" * 101, "text/plain"),
        (as_json({"text": "y" * 100}), "application/json"),
        (b'"a"\n' * 30, "application/jsonlines"),
        ("é" * 51, "text/plain"),  # a str body is measured in UTF-8 bytes: 102
        ({"data": ["z" * 60, "z" * 41]}, "application/json"),  # pre-parsed JSON: the bytes of its texts
    ],
)
def test_body_over_max_bytes_is_a_413_naming_the_setting(body, content_type):
    with pytest.raises(PayloadTooLarge, match=r"limit is 100 bytes \(max_request_bytes\)") as raised:
        decode_request(body, content_type, MAX_TEXTS, max_bytes=100)

    assert raised.value.status == 413


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"x" * 100, "text/plain"), ("é" * 50, "text/plain"), ({"data": ["z" * 60, "z" * 40]}, "application/json")],
)
def test_body_of_exactly_max_bytes_is_accepted(body, content_type):
    assert decode_request(body, content_type, MAX_TEXTS, max_bytes=100).texts


def test_size_is_checked_before_the_body_is_parsed():
    with pytest.raises(PayloadTooLarge):
        decode_request(b"{" * 1000, "application/json", MAX_TEXTS, max_bytes=100)


def test_no_max_bytes_means_no_size_limit():
    assert decode_request(b"x" * 100_000, "text/plain", MAX_TEXTS, max_bytes=None).texts == ("x" * 100_000,)


def test_too_many_texts_is_reported_before_an_empty_text():
    with pytest.raises(PayloadTooLarge):
        decode(as_json({"data": ["", "", ""]}), max_texts=2)


@pytest.mark.parametrize(
    "content_type", [None, "application/json", "application/x-www-form-urlencoded", "text/plain", "text/csv"]
)
def test_none_body_from_an_empty_form_post_is_a_400_hinting_at_content_type(content_type):
    with pytest.raises(InvalidInput, match="empty") as raised:
        decode(None, content_type)

    assert "Content-Type" in raised.value.message
    assert raised.value.status == 400


@pytest.mark.parametrize("body", [42, 3.5, object()])
def test_body_of_an_unexpected_python_type_is_a_400(body):
    with pytest.raises(InvalidInput, match="expected"):
        decode(body, "text/plain")


def test_bytearray_and_memoryview_bodies_are_accepted():
    assert decode(bytearray(b'{"text": "x"}')).texts == ("x",)
    assert decode(memoryview(b"plain"), "text/plain").texts == ("plain",)
    assert decode(memoryview(b'{"text": "x"}'), None).texts == ("x",)


def test_every_decode_error_is_a_serving_error():
    for body, content_type in [(b"{", "application/json"), (b"x", "image/png"), (b"\xff", "text/plain")]:
        with pytest.raises(ServingError):
            decode(body, content_type)


# --- text no tokenizer can take, and client names in messages -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "where"),
    [
        (b'{"text": "a\\ud800b"}', "application/json", "text 0"),
        (b'{"data": ["fine", "\\udfff"]}', "application/json", "text 1"),
        (b'"ok"\n"x\\ud83d"\n', "application/jsonlines", "text 1"),
        (b'["\\ud83d\\ude00 paired is fine", "\\ud83d alone is not"]', "application/json", "text 1"),
    ],
)
def test_a_lone_surrogate_escape_is_a_400_naming_the_text(body, content_type, where):
    with pytest.raises(InvalidInput, match=rf"{where} has an unpaired UTF-16 surrogate") as raised:
        decode(body, content_type)

    raised.value.message.encode("utf-8")


def test_a_paired_surrogate_escape_is_the_character_it_spells():
    assert decode(b'{"text": "\\ud83d\\ude00 up"}').texts == ("\U0001f600 up",)


@pytest.mark.parametrize(
    "body",
    [b'{"text": "ok", "\\ud800": 1}', b'{"inputs": "ok", "parameters": {"\\udfff": 1}}'],
    ids=["field", "parameter"],
)
def test_an_unknown_name_with_a_lone_surrogate_is_quoted_escaped(body):
    with pytest.raises(InvalidInput, match=r"unknown") as raised:
        decode(body)

    assert "'\\ud" in raised.value.message  # escaped as text, not the code point itself
    raised.value.message.encode("ascii")


def test_unknown_names_are_quoted_short_and_at_most_five():
    document = {"text": "x", **{f"field{i}" + "y" * 100: 1 for i in range(9)}}
    with pytest.raises(InvalidInput) as raised:
        decode(as_json(document))

    assert raised.value.message.count("'field") == 5
    assert len(raised.value.message) < 400
