"""The catalog of bad inputs: the issue's table, what reading the code found, the request contract's list, and
our own adversarial ones. `build_catalog(limits)` returns them all; sizes follow the configured limits.

Where the issue leaves a choice to the fix (a lone surrogate: 400 or a documented replacement), a case accepts
each allowed status. Heavy but admissible work (64 long texts, window mode) may be a 200, a 413 naming a cap, or
(several in one batch) a 503 for the requests the batch had no time left for (`batch_deadline_seconds`).
"""

from __future__ import annotations

from .canary import CANARY, with_canary
from .cases import Case, as_json, raw
from .catalog_contract import contract_cases
from .catalog_hostile import hostile_cases
from .limits import Limits
from .traffic import long_text

C = CANARY.encode()
KIB = 1024
JSON = "application/json"


def build_catalog(limits: Limits) -> list[Case]:
    cases = [*issue_cases(), *code_cases(limits), *contract_cases(), *hostile_cases(limits)]
    names = [case.name for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate case names: {duplicates}")
    return cases


def issue_cases() -> list[Case]:
    """The table of issue 11, bodies exactly as shown there (plus the canary where there is text)."""
    csv_body = b"text\nShares fell. " + C + b"\nThe striker scored.\n"
    return [
        raw("issue-1-surrogate-in-key", "issue", "JSON object whose unknown key is a lone surrogate escape",
            b'{"text":"ok ' + C + b'","\\ud800":1}', JSON, 400),
        raw("issue-2-surrogate-in-text", "issue", "JSON text holding a lone surrogate escape",
            b'{"text":"a\\ud800b ' + C + b'"}', JSON, (400, 200), results=1),
        raw("issue-3-punycode-150k", "issue", "charset=punycode, `x-` and 150,000 digits (quadratic decoding)",
            b"x-" + b"9" * 150_000, "application/octet-stream; charset=punycode", 415),
        raw("issue-3-punycode-1mb", "issue", "charset=punycode, `x-` and 1,000,000 digits",
            b"x-" + b"9" * 1_000_000, "application/octet-stream; charset=punycode", 415),
        raw("issue-4-form-bad-percent", "issue", "form post `text=Shares fell 50% today` (a bad % escape)",
            b"text=Shares fell 50% today " + C, "application/x-www-form-urlencoded", 500, frontend_limit=True),
        raw("issue-5-csv-lowercase-header", "issue", "CSV with a header row, header name `content-type` in lower case",
            csv_body, None, 200, ("content-type", "text/csv"), results=2, answer_type="text/csv"),
        raw("issue-6-json-charset-bare-string", "issue", "bare JSON string with `application/json; charset=utf-8`",
            b'"Shares fell. ' + C + b'"', "application/json; charset=utf-8", 200, results=1),
    ]  # fmt: skip


def code_cases(limits: Limits) -> list[Case]:
    """Found by reading the code: work done before the limits are checked, the two body limits, heavy batches."""
    under, rows, texts = limits.body_bytes - KIB, 100_000, limits.max_texts
    heavy = as_json({"data": [long_text()] * texts})
    cases = [
        raw("code-punctuation-under-limit", "code", f"text/plain: {under:,} bytes of punctuation (one token each)",
            C + b" " + b"!" * (under - len(C) - 1), "text/plain", 200, results=1),
        raw("code-cjk-under-limit", "code", f"text/plain: {under // 3:,} CJK characters (one token each)",
            C + b" " + "漢".encode() * ((under - len(C) - 1) // 3), "text/plain", 200, results=1),
        raw("code-json-text-under-limit", "code", f"JSON: one text of words, body {under:,} bytes",
            as_json({"text": with_canary("word " * ((under - 64) // 5))}), JSON, 200, results=1),
        raw("code-csv-100k-rows", "code", f"CSV with a header and {rows:,} rows (limit {texts} texts)",
            b"text\n" + (b"row " + C + b"\n") * rows, "text/csv", 413),
        raw("code-jsonlines-100k-rows", "code", f"JSON lines, {rows:,} lines",
            (b'"row ' + C + b'"\n') * rows, "application/jsonlines", 413),
        raw("code-json-100k-texts", "code", f"JSON list of {rows:,} texts",
            as_json({"data": [f"t {CANARY}"] * rows}), JSON, 413),
        raw("code-body-just-over-limit", "code", f"text/plain: {limits.body_bytes + KIB:,} bytes (limit + 1 KiB)",
            C + b" " + b"x" * (limits.body_bytes + KIB - len(C) - 1), "text/plain", 413, typed=False,
            closes_ok=True),
        raw("code-64-long-texts", "code", f"JSON list of {texts} texts of ~1500 tokens (truncate mode)",
            heavy, JSON, (200, 413), cost_bound=False),
        raw("code-batch-of-64-long-texts", "code",
            f"{limits.batch_size} requests at once, each {texts} texts of ~1500 tokens (truncate mode)",
            heavy, JSON, (200, 413, 503), cost_bound=False, copies=limits.batch_size),
        raw("code-window-64-long-texts", "code", f"window mode: JSON list of {texts} texts of ~1500 tokens",
            heavy, JSON, (200, 413), cost_bound=False, server="window"),
        raw("code-window-batch-of-64-long-texts", "code",
            f"window mode: {limits.batch_size} requests at once, each {texts} texts of ~1500 tokens",
            heavy, JSON, (200, 413, 503), cost_bound=False, copies=limits.batch_size, server="window"),
    ]  # fmt: skip
    if limits.frontend_bytes > limits.body_bytes:
        over = limits.frontend_bytes + 1
        cases.append(
            raw("code-body-over-frontend-limit", "code", f"text/plain: {over:,} bytes (max_request_size + 1)",
                C + b" " + b"x" * (over - len(C) - 1), "text/plain", 413, typed=False, closes_ok=True)
        )  # fmt: skip
    return cases
