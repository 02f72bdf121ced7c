"""Our own adversarial inputs: odd text, odd JSON, odd charsets, odd headers, form and multipart posts, chunked
framing, empty and limit-sized bodies. Each is an input a careless or hostile client can send today."""

from __future__ import annotations

from .canary import CANARY, with_canary
from .cases import Case, as_json, raw
from .http import CRLF
from .limits import Limits

C = CANARY.encode()
JSON = "application/json"
TEXT = "text/plain"
FORM = "application/x-www-form-urlencoded"
BOUNDARY = "reliabilityBoundary7391"


def hostile_cases(limits: Limits) -> list[Case]:
    return [*text_cases(limits), *json_cases(limits), *charset_cases(), *header_cases(), *form_cases(),
            *framing_cases()]  # fmt: skip


def text_cases(limits: Limits) -> list[Case]:
    """Texts a tokenizer may choke on or spend a long time in."""
    under = limits.body_bytes - 1024
    return [
        raw("huge-single-token", "adversarial", f"text/plain: one 'word' of {under:,} letters, no spaces",
            C + b"a" * (under - len(C)), TEXT, 200, results=1),
        raw("emoji-flood", "adversarial", "text/plain: 1 MiB of emoji (4-byte characters)",
            C + b" " + "😀".encode() * (256 * 1024), TEXT, 200, results=1),
        raw("combining-marks", "adversarial", "text/plain: a letter with 200,000 combining accents (zalgo)",
            C + b" a" + "\u0301".encode() * 200_000, TEXT, 200, results=1),
        raw("zero-width-only", "adversarial", "JSON text of 1,000 zero-width characters only",
            as_json({"text": "\u200b\u200c\u200d\u2060" * 250}), JSON, (200, 400)),
        raw("zero-width-interleaved", "adversarial", "JSON text with zero-width joiners between every letter",
            as_json({"text": "\u200d".join("Shares fell sharply") + " " + CANARY}), JSON, 200, results=1),
        raw("control-characters", "adversarial", "text/plain with every C0 control character",
            bytes(range(1, 32)) + b" Shares fell " + C, TEXT, (200, 400)),
        raw("nul-bytes-text", "adversarial", "text/plain with NUL bytes inside",
            b"Shares\x00fell\x00" + C, TEXT, (200, 400)),
        raw("nul-escape-json", "adversarial", "JSON text with \\u0000 escapes",
            b'{"text": "Shares\\u0000fell ' + C + b'"}', JSON, (200, 400)),
        raw("bidi-overrides", "adversarial", "JSON text wrapped in right-to-left override characters",
            as_json({"text": "\u202eShares fell\u202c " + CANARY}), JSON, 200, results=1),
        raw("surrogate-pair-escaped", "adversarial", "JSON text with a valid escaped surrogate pair (an emoji)",
            b'{"text": "up \\ud83d\\ude00 ' + C + b'"}', JSON, 200, results=1),
        raw("lone-low-surrogate-jsonlines", "adversarial", "JSON lines: a line holding a lone low surrogate escape",
            b'"fine ' + C + b'"\n"bad \\udc00 ' + C + b'"\n', "application/jsonlines", (400, 200)),
        raw("surrogate-in-parameters-key", "adversarial", "JSON parameters object with a lone surrogate key",
            b'{"inputs": "x ' + C + b'", "parameters": {"\\udfff": 1}}', JSON, 400),
        raw("surrogate-in-field-value-list", "adversarial", "JSON list whose second text is a lone surrogate",
            b'{"data": ["ok ' + C + b'", "\\ud800"]}', JSON, (400, 200)),
        raw("cesu-surrogate-bytes", "adversarial", "text/plain holding the UTF-8 bytes of a surrogate (CESU-8)",
            b"Shares \xed\xa0\x80 fell " + C, TEXT, 400),
        raw("overlong-utf8", "adversarial", "text/plain with an overlong UTF-8 sequence",
            b"Shares \xc0\xaf fell " + C, TEXT, 400),
        raw("utf16-without-charset", "adversarial", "UTF-16 text with a BOM but no charset",
            ("\ufeffShares fell " + CANARY).encode("utf-16-le"), TEXT, 400),
    ]  # fmt: skip


def json_cases(limits: Limits) -> list[Case]:
    """JSON that is deep, huge in one value, repetitive or almost right."""
    depth = 100_000
    return [
        raw("deeply-nested-array", "adversarial", f"JSON array nested {depth:,} deep",
            b"[" * depth + b"]" * depth, JSON, 400),
        raw("deeply-nested-object", "adversarial", f"JSON object nested {depth:,} deep under 'data'",
            b'{"data": ' + b'{"a": ' * depth + b"1" + b"}" * depth + b"}", JSON, 400),
        raw("huge-integer", "adversarial", "JSON text field holding a 20,000-digit integer",
            b'{"text": ' + b"9" * 20_000 + b"}", JSON, 400),
        raw("float-overflow", "adversarial", "JSON data 1e999 (infinity) and NaN parameters",
            b'{"data": 1e999, "parameters": {"top_k": NaN}}', JSON, 400),
        raw("duplicate-keys", "adversarial", "JSON object with the key 'text' twice",
            b'{"text": "a ' + C + b'", "text": "b ' + C + b'"}', JSON, (200, 400)),
        raw("json-with-bom", "adversarial", "JSON body starting with a UTF-8 BOM",
            b"\xef\xbb\xbf" + as_json({"text": with_canary("Shares fell.")}), JSON, 200, results=1),
        raw("json-trailing-garbage", "adversarial", "a JSON object followed by more text",
            as_json({"text": with_canary("a")}) + b" and more", JSON, 400),
        raw("list-of-lists", "adversarial", "JSON data holding a list of lists",
            as_json({"data": [[with_canary("a")]]}), JSON, 400),
        raw("many-empty-texts", "adversarial", "JSON list of 10,000 empty strings",
            as_json({"data": [""] * 10_000}), JSON, (400, 413)),
        raw("max-texts-of-one-letter", "adversarial", f"JSON list of exactly {limits.max_texts} one-letter texts",
            as_json({"data": ["a"] * (limits.max_texts - 1) + [CANARY]}), JSON, 200, results=limits.max_texts),
        raw("top-k-huge", "adversarial", "parameters top_k = 10**30",
            as_json({"inputs": with_canary("x"), "parameters": {"top_k": 10**30}}), JSON, (200, 400)),
        raw("return-all-scores-string", "adversarial", "parameters return_all_scores = 'yes'",
            as_json({"inputs": with_canary("x"), "parameters": {"return_all_scores": "yes"}}), JSON, 400),
        raw("empty-json-body", "adversarial", "application/json with an empty body", b"", JSON, 400),
        raw("whitespace-json-body", "adversarial", "application/json with only whitespace", b" \r\n\t ", JSON, 400),
        raw("empty-body-no-type", "adversarial", "no Content-Type, empty body", b"", None, 400),
    ]  # fmt: skip


def charset_cases() -> list[Case]:
    """Charsets: a short allow-list, everything else 415 (issue 11)."""
    text = with_canary("Shares fell")
    return [
        raw("charset-utf-7", "adversarial", "charset=utf-7", text.encode("utf-7"), f"{TEXT}; charset=utf-7", 415),
        raw("charset-idna", "adversarial", "charset=idna", b"xn--caf-dma " + C, f"{TEXT}; charset=idna", 415),
        raw("charset-rot13", "adversarial", "charset=rot13 (not a text encoding)", text.encode(),
            f"{TEXT}; charset=rot13", 415),
        raw("charset-base64", "adversarial", "charset=base64 (a bytes codec)", b"U2hhcmVz", f"{TEXT}; charset=base64",
            415),
        raw("charset-undefined", "adversarial", "charset=undefined (always fails)", text.encode(),
            f"{TEXT}; charset=undefined", 415),
        raw("charset-utf-32-bom-mismatch", "adversarial", "charset=utf-32-le with a big-endian BOM",
            "\ufeffShares fell".encode("utf-32-be"), f"{TEXT}; charset=utf-32-le", (400, 415)),
        raw("charset-utf-16-odd-length", "adversarial", "charset=utf-16 with an odd number of bytes",
            text.encode("utf-16") + b"\x00", f"{TEXT}; charset=utf-16", (400, 415)),
        raw("charset-ebcdic", "adversarial", "charset=cp037 (EBCDIC)", text.encode("cp037"),
            f"{TEXT}; charset=cp037", (200, 415)),
        raw("charset-latin-1", "adversarial", "charset=iso-8859-1 with an accented letter",
            "café ".encode("latin-1") + C, f"{TEXT}; charset=iso-8859-1", (200, 415)),
        raw("charset-quoted-upper-utf-8", "adversarial", 'charset="UTF-8" (quoted, upper case)', text.encode(),
            f'{TEXT}; charset="UTF-8"', 200, results=1),
        raw("charset-long-name", "adversarial", "a 2,000-character charset name", text.encode(),
            f"{TEXT}; charset={'x' * 2000}", 415),
    ]  # fmt: skip


def header_cases() -> list[Case]:
    """Header names in other cases, duplicates, Accept oddities, very long and very many headers."""
    body = as_json({"data": [with_canary("Shares fell."), "The striker scored."]})
    lines = ("Shares fell. " + CANARY + "\nThe striker scored.\n").encode()
    return [
        raw("upper-case-content-type-name", "adversarial", "JSON lines with header name `CONTENT-TYPE`",
            b'"a ' + C + b'"\n"b"\n', None, 200, ("CONTENT-TYPE", "application/jsonlines"), results=2,
            answer_type="application/jsonlines"),
        raw("lower-case-accept-name", "adversarial", "JSON with header name `accept: text/csv`",
            body, JSON, 200, ("accept", "text/csv"), results=2, answer_type="text/csv"),
        raw("lower-case-both-names", "adversarial", "CSV in, JSON lines out, both header names in lower case",
            lines, None, 200, ("content-type", "text/csv"), ("accept", "application/jsonlines"), results=2,
            answer_type="application/jsonlines"),
        raw("duplicate-content-type", "adversarial", "two Content-Type headers: text/csv, then application/json",
            body, "text/csv", (200, 400, 415), ("Content-Type", JSON)),
        raw("accept-refuses-everything", "adversarial", "Accept: */*;q=0", body, JSON, 406, ("Accept", "*/*;q=0")),
        raw("accept-bad-quality", "adversarial", "Accept: application/json;q=abc", body, JSON, (200, 406),
            ("Accept", "application/json;q=abc")),
        raw("accept-5k-of-types", "adversarial", "Accept listing 250 unknown media types (5 KB)", body, JSON, 406,
            ("Accept", ", ".join(f"application/x-{i}" for i in range(250)))),
        raw("header-over-8k", "adversarial", "a 10,000-byte header value", body, JSON, (400, 413, 431),
            ("X-Filler", "a" * 10_000), typed=False),
        raw("three-hundred-headers", "adversarial", "300 extra headers", body, JSON, 200,
            *((f"X-Extra-{i}", str(i)) for i in range(300)), results=2),
        raw("text-in-query-string", "adversarial", "a valid JSON body plus `?text=...` in the URL",
            body, JSON, 200, path=f"?text={CANARY}+merger+talks", results=2),
        raw("get-with-body", "adversarial", "GET with a JSON body", body, JSON, (200, 400, 405), method="GET"),
        raw("unknown-model", "adversarial", "POST to a model that does not exist", body, JSON, 404,
            path="/predictions/no_such_model"),
    ]  # fmt: skip


def _multipart(*parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    """A multipart/form-data body: (field name, file name or None, content) per part."""
    chunks = []
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        head = f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n"
        head += "Content-Type: application/json\r\n" if filename else ""
        chunks.append(head.encode() + CRLF + content + CRLF)
    return b"".join(chunks) + (f"--{BOUNDARY}--\r\n".encode() if close else b"")


def form_cases() -> list[Case]:
    """Form posts (`curl -d`) and multipart uploads, decoded by TorchServe's frontend before any handler."""
    multipart = f"multipart/form-data; boundary={BOUNDARY}"
    document = as_json({"text": with_canary("Shares fell.")})
    return [
        raw("form-bad-escape", "adversarial", "form post with an invalid %ZZ escape",
            b"text=%ZZ " + C, FORM, 500, frontend_limit=True),
        raw("form-truncated-escape", "adversarial", "form post ending in a lone %",
            b"text=Shares+fell+" + C + b"%", FORM, 500, frontend_limit=True),
        raw("form-two-fields", "adversarial", "form post with two fields",
            b"text=a+" + C + b"&other=b", FORM, 400),
        raw("form-not-pairs", "adversarial", "form post that is not name=value (curl -d 'just text')",
            b"just some text " + C, FORM, 400),
        raw("form-json-value", "adversarial", "form post whose one field holds a JSON document",
            b"data=" + document, FORM, 200, results=1),
        raw("multipart-field", "adversarial", "multipart/form-data, one field holding JSON",
            _multipart(("data", None, document)), multipart, (200, 415)),
        raw("multipart-file", "adversarial", "multipart/form-data, one JSON file part",
            _multipart(("data", "texts.json", document)), multipart, (200, 415)),
        raw("multipart-unterminated", "adversarial", "multipart/form-data without its closing boundary",
            _multipart(("data", None, document), close=False), multipart, (400, 415)),
        raw("multipart-no-boundary", "adversarial", "multipart/form-data without a boundary parameter",
            document, "multipart/form-data", (400, 415)),
    ]  # fmt: skip


def framing_cases() -> list[Case]:
    """HTTP framing: chunked bodies, good and broken."""
    document = as_json({"text": with_canary("Shares fell.")})
    broken = b"zz" + CRLF + document + CRLF + b"0" + CRLF + CRLF
    return [
        raw("chunked-json", "adversarial", "JSON sent with Transfer-Encoding: chunked", document, JSON, 200,
            chunked=True, results=1),
        raw("chunked-large-text", "adversarial", "5 MiB of text/plain sent chunked",
            C + b" " + b"word " * (1024 * 1024), TEXT, 200, chunked=True, results=1),
        raw("chunked-bad-size", "adversarial", "chunked framing with a chunk size that is not hex",
            document, JSON, 400, ("Transfer-Encoding", "chunked"), raw_body=broken, typed=False),
    ]  # fmt: skip
