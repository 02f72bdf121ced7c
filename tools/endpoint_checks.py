"""What the platform asks of a SageMaker-style endpoint, checked over HTTP from the host (`tools.image_check`
runs them against the built image): /invocations per format and Accept, 4xx for bad bodies, and /ping's answer
time. Each check is a `Check`; `report` prints them and counts only the checks.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests

PING_REPLY_S = 2  # SageMaker wants each /ping answered within 2 s
IN_FLIGHT = 8
TEXTS = [
    "Shares in the bank rose 5% after profits beat forecasts.",
    "The striker scored twice as the champions won 3-1.",
    "A new smartphone chip promises longer battery life.",
]
BUSY_BODY = json.dumps({"data": TEXTS * 8})
"""24 texts: IN_FLIGHT such requests keep 2 cores busy for seconds."""


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    """None: a figure reported for information, neither passed nor failed."""
    detail: str


def post(url: str, body: str | bytes, content_type: str, accept: str | None = None) -> requests.Response:
    headers = {"Content-Type": content_type} | ({"Accept": accept} if accept else {})
    return requests.post(f"{url}/invocations", data=body, headers=headers, timeout=120)


def expect(name: str, response: requests.Response, status: int, content_type: str | None, lines: int | None) -> Check:
    """A check of one answer: its status, its Content-Type and how many result lines (or JSON items) it has."""
    got_type = response.headers.get("Content-Type", "").split(";")[0]
    if content_type == "application/json" and response.status_code == 200:
        count = len(response.json())
    else:
        count = len(response.text.splitlines())
    ok = response.status_code == status and (content_type is None or got_type == content_type)
    ok = ok and (lines is None or count == lines)
    if response.status_code >= 400 and got_type == "application/json":
        return Check(name, ok, f"{response.status_code} {got_type}, error type {response.json().get('type')}")
    if response.status_code == 200 and got_type == "application/json":
        labels = ", ".join(result.get("label", "?") for result in response.json())
        return Check(name, ok, f"200 {got_type}, {count} result(s): {labels}")
    return Check(name, ok, f"{response.status_code} {got_type or '-'}, {count} result(s)")


def invocation_checks(url: str) -> list[Check]:
    jsonl = "".join(json.dumps({"text": text}) + "\n" for text in TEXTS)
    csv_body = "\n".join(TEXTS) + "\n"
    n = len(TEXTS)
    cases: list[tuple[str, Callable[[], requests.Response], int, str | None, int | None]] = [
        ("JSON in, JSON out", lambda: post(url, json.dumps({"data": TEXTS}), "application/json"), 200,
         "application/json", n),
        ("JSON lines: one line out per line in", lambda: post(url, jsonl, "application/jsonlines"), 200,
         "application/jsonlines", n),
        ("CSV: one line out per line in", lambda: post(url, csv_body, "text/csv"), 200, "text/csv", n),
        ("Accept: text/csv for a JSON body", lambda: post(url, json.dumps({"data": TEXTS}), "application/json",
         "text/csv"), 200, "text/csv", n),
        ("Accept: application/jsonlines for CSV", lambda: post(url, csv_body, "text/csv", "application/jsonlines"),
         200, "application/jsonlines", n),
        ("Accept it cannot produce -> 406", lambda: post(url, csv_body, "text/csv", "image/png"), 406, None, None),
        ("malformed JSON -> 400", lambda: post(url, b'{"data": [', "application/json"), 400, None, None),
        ("unsupported Content-Type -> 415", lambda: post(url, b"\x89PNG", "image/png"), 415, None, None),
    ]  # fmt: skip
    return [expect(name, send(), status, answer_type, lines) for name, send, status, answer_type, lines in cases]


def timed_pings(url: str, count: int = 10) -> list[float | None]:
    """Seconds each of `count` consecutive /ping calls took to answer 200 (None: another answer, or none within
    five times the bound: a slow answer is timed, not retried as at start-up)."""
    times: list[float | None] = []
    for _ in range(count):
        started = time.monotonic()
        try:
            healthy = requests.get(f"{url}/ping", timeout=5 * PING_REPLY_S).status_code == 200
        except requests.RequestException:
            healthy = False
        times.append(time.monotonic() - started if healthy else None)
    return times


def ping_check(times: Sequence[float | None], when: str) -> Check:
    """Every /ping answered 200 within PING_REPLY_S."""
    answered = [seconds for seconds in times if seconds is not None]
    slowest = max(answered, default=0.0)
    ok = bool(times) and len(answered) == len(times) and slowest <= PING_REPLY_S
    detail = f"{len(answered)}/{len(times)} answered 200, slowest {slowest:.2f} s"
    return Check(f"/ping answered within {PING_REPLY_S} s {when}", ok, detail)


def busy_ping_check(url: str) -> Check:
    """/ping while IN_FLIGHT large requests keep the workers busy: SageMaker keeps pinging a serving endpoint."""
    threads = [threading.Thread(target=post, args=(url, BUSY_BODY, "application/json")) for _ in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    times = timed_pings(url)
    for thread in threads:
        thread.join()  # each post ends within its own timeout
    return ping_check(times, f"with {IN_FLIGHT} requests in flight")


def classifies(url: str) -> bool:
    try:
        return post(url, json.dumps({"text": "warm up"}), "application/json").status_code == 200
    except requests.RequestException:
        return False


def report(checks: Sequence[Check]) -> int:
    """Print every line; count only the checks (not the figures reported for information)."""
    width = max(len(check.name) for check in checks)
    for check in checks:
        mark = "info" if check.ok is None else "ok  " if check.ok else "FAIL"
        print(f"  {mark}  {check.name:<{width}}  {check.detail}")
    failed = sum(check.ok is False for check in checks)
    passed = sum(check.ok is True for check in checks)
    print(f"image-check: {passed} passed, {failed} failed")
    return 1 if failed else 0
