"""The request contract's bad inputs (docs/request-contract.md "Errors"): the one list both
`tests/integration/test_request_contract.py` and the reliability catalog use.

Each is `(body, content type, status, error type, words the message must contain)`. Bodies that hold text hold
the privacy canary.
"""

from __future__ import annotations

import json

from .canary import CANARY
from .cases import Case, raw

C = CANARY.encode()

CONTRACT_BAD_INPUTS = [
    (b'{"data": ["unterminated ' + C, "application/json", 400, "InvalidInput", "malformed JSON"),
    (b'{"texts": ["wrong field ' + C + b'"]}', "application/json", 400, "InvalidInput", "unknown field"),
    (b"{}", "application/json", 400, "InvalidInput", "exactly one of"),
    (b'{"data": 42}', "application/json", 400, "InvalidInput", "'data' must be"),
    (b'{"text": ["a list ' + C + b'"]}', "application/json", 400, "InvalidInput", "'text' must be a string"),
    (b'{"data": ["ok ' + C + b'", null]}', "application/json", 400, "InvalidInput", "data[1]"),
    (b"42", "application/json", 400, "InvalidInput", "got a number"),
    (b"null", "application/json", 400, "InvalidInput", "got null"),
    (b"true", "application/json", 400, "InvalidInput", "got a boolean"),
    (b'{"data": []}', "application/json", 400, "InvalidInput", "no texts"),
    (b'{"text": "   "}', "application/json", 400, "InvalidInput", "empty"),
    (b'{"inputs": "x", "parameters": {"top_k": 0}}', "application/json", 400, "InvalidInput", "top_k"),
    (
        b'{"inputs": "x", "parameters": {"temperature": 1}}',
        "application/json",
        400,
        "InvalidInput",
        "temperature",
    ),
    (b"\xff\xfe\x00bad " + C, "text/plain", 400, "InvalidInput", "UTF-8"),
    (b'{"data": ["caf\xe9 ' + C + b'"]}', "application/json", 400, "InvalidInput", "utf-8"),
    (b"", "text/plain", 400, "InvalidInput", "body is empty"),
    (b'"ok ' + C + b'"\n{"nope": 1}\n', "application/jsonlines", 400, "InvalidInput", "line 2"),
    (b"a,b " + C + b"\n", "text/csv", 400, "InvalidInput", "row 1"),
    (b'"unterminated ' + C + b"\n", "text/csv", 400, "InvalidInput", "malformed CSV at line 1"),
    (b"\x89PNG\r\n", "image/png", 415, "UnsupportedMediaType", "image/png"),
    (b"hello " + C, "text/plain; charset=klingon", 415, "UnsupportedMediaType", "charset"),
    (
        json.dumps({"data": [f"t {CANARY}"] * 65}).encode(),
        "application/json",
        413,
        "PayloadTooLarge",
        "the limit is 64",
    ),
]


def contract_cases() -> list[Case]:
    """The list above as catalog cases, numbered and named after what the message must say."""
    cases = []
    for number, (body, content_type, status, error_type, words) in enumerate(CONTRACT_BAD_INPUTS, start=1):
        slug = "-".join("".join(ch if ch.isalnum() else " " for ch in words.lower()).split())
        what = f"{content_type}: {error_type} whose message says '{words}'"
        name = f"contract-{number:02d}-{slug}"
        cases.append(raw(name, "contract", what, body, content_type, status, error_type=error_type, words=words))
    return cases
