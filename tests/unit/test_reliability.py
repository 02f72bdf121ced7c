"""The reliability harness's own logic: the raw client, the catalog, the canary search, the verdicts, the
statistics, the records' JSON and the report (no TorchServe)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from pathlib import Path

import pytest

from reliability.canary import CANARY, scan_logs
from reliability.cases import SOURCES, Case, raw
from reliability.catalog import build_catalog
from reliability.catalog_contract import CONTRACT_BAD_INPUTS, contract_cases
from reliability.drain import unanswered_at
from reliability.faults import proposed_max_retry
from reliability.http import RawRequest, Reply, encode_request, send
from reliability.limits import Limits, read_limits
from reliability.loadgen import Outcome, Tagged, summarise, unexpected
from reliability.neighbours import _shared, answer
from reliability.report import all_problems, render_markdown
from reliability.results import (
    Answer,
    CanaryResult,
    CaseResult,
    DrainResult,
    KillResult,
    LoadSummary,
    NeighbourAnswer,
    OverloadResult,
    RunResult,
    SoakResult,
    UnloadableResult,
    from_json,
    to_json,
)
from reliability.served import parse_prometheus
from reliability.soak import BAD_EVERY, grown, growth, soak_mix, soakable
from reliability.traffic import body_kind, good_requests, neighbours, parse_results, same_answer
from reliability.verdicts import (
    CPU_BOUND_SECONDS,
    FAST_REJECTION_SECONDS,
    NO_NEIGHBOURS,
    NOT_SHARED,
    REFUSED,
    SHARED,
    judge_case,
    judge_drain,
    judge_load,
    judge_overload,
    judge_soak,
    judge_unloadable,
    neighbours_evidence,
)

pytestmark = pytest.mark.unit

LIMITS = Limits(body_bytes=6 * 2**20, frontend_bytes=64 * 2**20, max_texts=64, max_length=256, batch_size=8,
                max_batch_delay_ms=5, response_timeout_s=60, workers=2)  # fmt: skip


# --- the raw client -----------------------------------------------------------------------------------------


def test_a_raw_request_keeps_header_spelling_order_and_duplicates_and_adds_only_what_is_missing():
    request = RawRequest(b"abc", (("content-type", "text/csv"), ("Content-Type", "application/json")))
    head, _, body = encode_request(request, "h:1", "/p").partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /p HTTP/1.1"
    assert lines[1:] == ["Host: h:1", "content-type: text/csv", "Content-Type: application/json",
                         "Content-Length: 3", "Connection: close"]  # fmt: skip
    assert body == b"abc"


def test_a_chunked_request_is_framed_in_chunks_and_raw_bytes_go_out_as_they_are():
    chunked = encode_request(RawRequest(b"x" * 70_000, chunked=True), "h", "/")
    assert b"Transfer-Encoding: chunked" in chunked
    assert b"Content-Length" not in chunked
    assert chunked.endswith(b"\r\n0\r\n\r\n")
    assert b"\r\n10000\r\n" + b"x" * 10 in chunked  # a first chunk of 64 KiB, size in hex
    broken = encode_request(RawRequest(b"", (("Transfer-Encoding", "chunked"),), raw_body=b"zz\r\n"), "h", "/")
    assert broken.endswith(b"\r\n\r\nzz\r\n")


def _one_shot_server(answer_bytes: bytes) -> tuple[int, list[bytes]]:
    """A socket that reads one request's head and answers `answer_bytes`; what it received, for the test."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        connection, _ = listener.accept()
        with connection, listener:
            data = b""
            while b"\r\n\r\n" not in data:
                data += connection.recv(65536)
            received.append(data)
            connection.sendall(answer_bytes)

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], received


def test_send_reads_status_headers_and_body_and_hits_the_model_path():
    port, received = _one_shot_server(b"HTTP/1.1 415 Unsupported\r\nContent-Type: application/json\r\n"
                                      b"Content-Length: 2\r\n\r\n{}")  # fmt: skip
    reply = send(f"http://127.0.0.1:{port}/predictions/bert", RawRequest(b"x", path="?a=1"), timeout=10)
    assert (reply.status, reply.content_type, reply.body, reply.error) == (415, "application/json", b"{}", None)
    assert received[0].startswith(b"POST /predictions/bert?a=1 HTTP/1.1\r\n")


def test_send_reports_a_connection_closed_without_an_answer():
    port, _ = _one_shot_server(b"")
    reply = send(f"http://127.0.0.1:{port}/x", RawRequest(b""), timeout=10)
    assert reply.status == 0
    assert reply.error == "closed"


# --- the catalog and the good traffic -----------------------------------------------------------------------


def test_the_catalog_has_over_40_uniquely_named_kinds_from_every_source():
    cases = build_catalog(LIMITS)
    assert len(cases) >= 40
    assert len({case.name for case in cases}) == len(cases)
    assert {case.source for case in cases} == set(SOURCES)
    assert len([c for c in cases if c.source == "issue"]) >= 6
    assert len(contract_cases()) == len(CONTRACT_BAD_INPUTS)


def test_catalog_sizes_follow_the_configured_limits():
    by_name = {case.name: case for case in build_catalog(LIMITS)}
    assert by_name["code-punctuation-under-limit"].size < LIMITS.body_bytes
    assert LIMITS.body_bytes < by_name["code-body-just-over-limit"].size < LIMITS.frontend_bytes
    assert by_name["code-body-over-frontend-limit"].size > LIMITS.frontend_bytes
    smaller = Limits(**{**LIMITS.__dict__, "frontend_bytes": LIMITS.body_bytes})
    assert "code-body-over-frontend-limit" not in {case.name for case in build_catalog(smaller)}


def test_text_carrying_cases_carry_the_canary():
    cases = [c for c in build_catalog(LIMITS) if c.source in ("issue", "code")]
    missing = {c.name for c in cases if CANARY.encode() not in (c.request.raw_body or c.request.body)}
    assert missing == {"issue-3-punycode-150k", "issue-3-punycode-1mb"}  # digits only: the exact body


def test_a_case_needs_a_known_source_server_and_status():
    with pytest.raises(ValueError, match="source"):
        raw("x", "elsewhere", "", b"", None, 400)
    with pytest.raises(ValueError, match="server"):
        raw("x", "issue", "", b"", None, 400, server="gpu")
    with pytest.raises(ValueError, match="status"):
        Case("x", "issue", "", RawRequest(), frozenset())


def test_good_requests_cover_every_request_format_of_the_contract():
    types = {good.request.header("Content-Type") for good in good_requests()}
    assert {"application/json", "text/plain", "application/jsonlines", "text/csv", "application/octet-stream",
            "application/x-www-form-urlencoded", None} <= types  # fmt: skip
    assert len(neighbours(7)) == 7
    assert neighbours(0) == []


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"label": "a", "score": 0.5}', [("a", 0.5)]),
        ("application/json; charset=utf-8", b'[{"label": "a", "score": 1}]', [("a", 1.0)]),
        ("application/jsonlines", b'{"label": "a", "score": 0.5}\n{"label": "b", "score": 0.25}\n',
         [("a", 0.5), ("b", 0.25)]),
        ("text/csv", b"a,0,0.5\nb,1,0.25\n", [("a", 0.5), ("b", 0.25)]),
        ("text/plain", b"a", None),
        ("application/json", b'{"code": 400}', None),
    ],
)  # fmt: skip
def test_results_are_read_from_json_jsonlines_and_csv(content_type, body, expected):
    assert parse_results(Reply(200, {"content-type": content_type}, body)) == expected


def test_body_kinds_and_the_answer_record_mask_the_canary():
    error = Reply(400, {"content-type": "application/json"},
                  json.dumps({"code": 400, "type": "InvalidInput", "message": f"bad {CANARY}"}).encode())  # fmt: skip
    assert body_kind(error) == "error"
    assert body_kind(Reply(413)) == "empty"
    assert body_kind(Reply(0, error="reset")) == "none"
    recorded = answer(error)
    assert (recorded.error_type, recorded.message) == ("InvalidInput", "bad <CANARY>")


def test_same_answer_allows_only_tiny_score_differences():
    assert same_answer([("a", 0.5)], [("a", 0.5005)])
    assert not same_answer([("a", 0.5)], [("a", 0.51)])
    assert not same_answer([("a", 0.5)], [("b", 0.5)])
    assert not same_answer([("a", 0.5)], None)


def _json_reply(status: int, kind: str, message: str = "m") -> Reply:
    return Reply(status, {"content-type": "application/json"},
                 json.dumps({"code": status, "type": kind, "message": message}).encode())  # fmt: skip


def test_batch_sharing_is_proven_only_by_one_batch_holding_every_request():
    ok = Reply(200, {"content-type": "application/json"}, b'{"label": "a", "score": 1}')
    bad = _json_reply(400, "InvalidInput")
    assert _shared([bad], [bad, ok, ok], [(3, 3, 1)], 3) == "yes"
    assert _shared([bad], [bad, ok, ok], [(2, 2, 1), (1, 1, 0)], 3) == "no"
    refused = _json_reply(413, "RequestEntityTooLarge")
    assert _shared([refused], [refused, ok, ok], [(2, 2, 0)], 2) == "refused"
    died = _json_reply(500, "InternalServerException", "Worker died.")
    assert _shared([died], [died, died, ok], [], 1) == "failed-together"


# --- verdicts -----------------------------------------------------------------------------------------------


def _case_result(case: Case, *answers: Answer, **fields) -> CaseResult:
    values = dict(name=case.name, source=case.source, what=case.what, server=case.server, size=case.size,
                  expected=sorted(case.statuses), bad=list(answers), neighbours=[NeighbourAnswer("n", 200, 0.1, True)],
                  echoed=False, shared_batch="yes", handler_batches=1, handler_requests=2, worker_cpu_seconds=0.1,
                  cost_cpu_seconds=0.0, frontend_cpu_seconds=0.0, restarted=False)  # fmt: skip
    return CaseResult(**(values | fields))


def test_a_case_holds_only_with_the_expected_typed_answer_and_no_harm():
    case = raw("c", "issue", "", b"x", "text/plain", 400, error_type="InvalidInput", words="empty")
    typed = Answer(400, 0.1, "error", error_type="InvalidInput", message="text 0 is empty")
    assert judge_case(case, _case_result(case, typed)) == []
    assert judge_case(case, _case_result(case, Answer(500, 0.1, "error", error_type="X", message="boom"))) == [
        "got 500 X: boom; expected 400"
    ]
    assert "400 without a JSON error body (empty)" in judge_case(case, _case_result(case, Answer(400, 0.1, "empty")))
    harmed = _case_result(case, typed, neighbours=[NeighbourAnswer("n", 503, 0.1, False)], restarted=True, echoed=True,
                          cost_cpu_seconds=CPU_BOUND_SECONDS + 1)  # fmt: skip
    problems = judge_case(case, harmed)
    assert "1 of 1 neighbours harmed (503)" in problems
    assert "a worker restarted" in problems
    assert "the answer quotes the request's text" in problems
    assert any(problem.startswith("cost") for problem in problems)


def test_a_frontend_limit_is_held_to_torchserves_own_500_and_its_echo_is_not_a_problem_but_harm_still_is():
    limit = raw("f", "adversarial", "", b"text=%ZZ", "application/x-www-form-urlencoded", 500, frontend_limit=True)
    own_500 = Answer(500, 0.1, "error", error_type="ErrorDataDecoderException", message="Invalid hex byte")
    assert judge_case(limit, _case_result(limit, own_500, echoed=True, frontend_limit=True)) == []
    assert judge_case(limit, _case_result(limit, Answer(200, 0.1, "results"), frontend_limit=True))
    harmed = _case_result(limit, own_500, neighbours=[NeighbourAnswer("n", 503, 0.1, False)], frontend_limit=True)
    assert judge_case(limit, harmed) == ["1 of 1 neighbours harmed (503)"]


def test_neighbours_count_as_unharmed_only_where_they_shared_the_bad_inputs_batch():
    case = raw("c", "issue", "", b"x", "text/plain", 400, error_type="InvalidInput")
    typed = Answer(400, 0.1, "error", error_type="InvalidInput", message="m")
    results = {
        SHARED: _case_result(case, typed, shared_batch="yes"),
        REFUSED: _case_result(case, typed, shared_batch="refused"),
        NO_NEIGHBOURS: _case_result(case, typed, neighbours=[], shared_batch="unknown"),
        NOT_SHARED: _case_result(case, typed, shared_batch="no"),
    }
    assert {evidence: neighbours_evidence(result) for evidence, result in results.items()} == {
        evidence: evidence for evidence in results
    }
    assert judge_case(case, results[NOT_SHARED]) == ["neighbours unharmed but not shown to share its batch (batch: no)"]
    assert judge_case(case, _case_result(case, typed, shared_batch="unknown"))
    assert [judge_case(case, results[evidence]) for evidence in (SHARED, REFUSED, NO_NEIGHBOURS)] == [[], [], []]
    for result in results.values():
        result.problems = judge_case(case, result)
    run = RunResult(command="python -m reliability", started="now", quick=True, machine={}, limits={})
    run.cases = list(results.values())
    summary = "| neighbours unharmed, in the bad input's batch | 1 of 4 kinds (1 neighbours); not counted: batch not "
    assert summary + "shared 1, no neighbours 1, refused before batching 1 | **no** |" in render_markdown(run)
    assert "| 1/1 (refused before batching) | refused |" in render_markdown(run)


def test_a_refusal_by_closing_the_connection_holds_only_where_allowed_and_200s_are_counted():
    closing = raw("c", "code", "", b"x", "text/plain", 413, typed=False, closes_ok=True)
    assert judge_case(closing, _case_result(closing, Answer(0, 1.0, "none", error="reset"))) == []
    assert judge_case(closing, _case_result(closing, Answer(0, 1.0, "none", error="timeout"))) == [
        "no answer (timeout)"
    ]
    counted = raw("c", "issue", "", b"x", None, 200, results=2, answer_type="text/csv")
    one = Answer(200, 0.1, "results", media_type="application/json", results=1)
    assert judge_case(counted, _case_result(counted, one)) == [
        "200 with 1 results, expected 2",
        "answered as application/json, expected text/csv",
    ]


def test_load_verdicts_name_unexpected_statuses_and_late_answers():
    summary = LoadSummary("4x", 100, 10, 3, {"200": 1, "503": 1, "timeout": 1},
                          {"200": {"max": 2.0}, "503": {"max": 0.1}, "timeout": {"max": 10.2}})  # fmt: skip
    assert judge_load(summary, frozenset({"200", "503"}), 10.0) == [
        "4x: unexpected 1× timeout",
        "4x: answers past the 10 s deadline (timeout up to 10.2 s)",
    ]


def test_overload_503s_must_be_fast():
    def run(p99_503: float) -> LoadSummary:
        return LoadSummary("4x", 100, 10, 3, {"200": 1, "503": 2}, {"200": {"max": 2.0}, "503": {"p99": p99_503}},
                           deadline_seconds=10)  # fmt: skip

    def overload(summary: LoadSummary) -> OverloadResult:
        return OverloadResult(25, 16, 10, 10, 80, [summary], 200, 0.1, None, None, None)

    assert judge_overload(overload(run(FAST_REJECTION_SECONDS))) == []
    assert judge_overload(overload(run(FAST_REJECTION_SECONDS + 0.5))) == ["4x: slow 503s (p99 1.50 s, bound 1 s)"]


def test_a_drain_holds_only_with_a_request_still_unanswered_at_sigterm():
    moment = 100.0
    replies = [Reply(200, finished=moment - 1), Reply(200, finished=moment + 1), Reply(error="thread-hung")]
    assert unanswered_at(replies, moment, sent=4) == 3  # one answered after, one hung, one never came back
    assert judge_drain(DrainResult(12, 12, {"200": 12}, 0, 3.0, unanswered_at_signal=0)) == [
        "no request was still unanswered at SIGTERM (0 of 12): nothing was drained"
    ]


def test_send_records_when_the_exchange_ended():
    port, _ = _one_shot_server(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    before = time.perf_counter()
    reply = send(f"http://127.0.0.1:{port}", RawRequest(body=b"x"), 5)
    assert before < reply.finished <= time.perf_counter()


def test_drain_unloadable_and_soak_verdicts():
    assert judge_drain(DrainResult(12, 12, {"200": 12}, 0, 3.0, unanswered_at_signal=9)) == []
    assert judge_drain(DrainResult(12, 0, {"reset": 12}, 0, 3.0, unanswered_at_signal=12)) == [
        "12 of 12 accepted requests lost (12× reset)"
    ]
    assert judge_drain(DrainResult(1, 1, {"200": 1}, None, None, unanswered_at_signal=1)) == [
        "exit status None, expected 0",
        "did not exit within 30 s",
    ]
    assert judge_unloadable(UnloadableResult(30, 120, 38.0, 8.0, 90)) == ["/ping said Healthy for 38 s (limit 30 s)"]
    assert judge_unloadable(UnloadableResult(15, 120, 24.0, 8.0, 90)) == []
    load = LoadSummary("soak", 10, 60, 600, {"200": 600}, {})
    assert judge_soak(SoakResult(60, 10, load, {}, {}, {}, 0.049, 0, False)) == []
    assert judge_soak(SoakResult(60, 10, load, {"json:500": 2}, {}, {}, 0.06, 3, True)) == [
        "unexpected statuses: 2× json:500",
        "worker RSS grew 6.0% after warm-up (limit 5%)",
        "open file descriptors grew by 3",
        "a worker restarted",
    ]


def test_proposed_max_retry_keeps_first_failure_plus_retry_within_30_s():
    assert proposed_max_retry(8.0) == 17
    assert proposed_max_retry(40.0) == 1
    assert proposed_max_retry(None) is None


# --- statistics, traffic mixes, metrics ---------------------------------------------------------------------


def test_load_summary_counts_statuses_latencies_and_rates():
    outcomes = [Outcome("a", "200", 0.1, 0.0), Outcome("a", "200", 0.3, 0.5), Outcome("b", "503", 0.01, 1.0)]
    summary = summarise("run", outcomes, 3.0)
    assert summary.statuses == {"200": 2, "503": 1}
    assert summary.latency["200"]["p50"] == pytest.approx(0.2)
    assert summary.latency["503"]["max"] == pytest.approx(0.01)
    assert summary.seconds == pytest.approx(1.01)
    assert summary.sent_rate == pytest.approx(2.0)
    mix = [Tagged("a", RawRequest()), Tagged("b", RawRequest(), frozenset({400}))]
    assert unexpected(outcomes, mix) == {"b:503": 1}


def test_growth_compares_the_ends_of_the_samples():
    assert growth([100, 100, 100, 104, 104, 104]) == pytest.approx(0.04)
    assert growth([100]) == 0.0
    assert grown([5, 5, 5, 5, 6, 6]) == 1
    assert grown([5, 5, 9, 5, 5, 5]) == 0  # medians of each end: a passing spike is not growth


def test_the_soak_mix_holds_every_valid_format_and_one_bad_request_in_ten():
    cases = build_catalog(LIMITS)
    mix = soak_mix(cases, [])
    soakable_names = {c.name for c in cases if soakable(c)}
    bad = [item for item in mix if item.kind in soakable_names]
    assert len(bad) == len(soakable_names) > 20
    assert abs(len(bad) / len(mix) - 1 / BAD_EVERY) < 0.02
    assert {good.name for good in good_requests()} <= {item.kind for item in mix}
    assert not any(soakable(c) for c in cases if c.request.chunked or c.size > 64 * 1024 or c.copies > 1)


def test_prometheus_text_is_summed_per_metric_name():
    text = (
        '# HELP x\nbert_requests_total{Level="Model",ModelName="a"} 3.0\nbert_requests_total{ModelName="b"} 2\nts 1\n'
    )
    assert parse_prometheus(text) == {"bert_requests_total": 5.0, "ts": 1.0}


def test_limits_are_read_from_the_shipped_files(tmp_path):
    shipped = read_limits()
    assert shipped.body_bytes <= shipped.frontend_bytes
    config = tmp_path / "model-config.yaml"
    config.write_text("batchSize: 4\nmaxWorkers: 3\nhandler:\n  max_request_bytes: 1000\n")
    properties = tmp_path / "config.properties"
    properties.write_text("max_request_size=500\n")
    limits = read_limits(config, properties)
    assert (limits.body_bytes, limits.frontend_bytes, limits.batch_size, limits.workers) == (500, 500, 4, 3)
    assert limits.neighbours == 3


# --- the canary, the records, the report --------------------------------------------------------------------


def test_the_canary_is_found_in_any_log_form_and_masked(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "ts_log.log").write_text(f"ok\nERROR decoding 'Shares fell {CANARY}'\n")
    (logs / "model_log.log").write_bytes(b"x " + CANARY.upper().encode("utf-16-le") + b"\n")
    (logs / "access_log.01-Dec.log.gz").write_bytes(gzip.compress(CANARY.encode().hex().encode() + b"\n"))
    (logs / "notes.md").write_text(CANARY)
    files, hits = scan_logs([tmp_path, tmp_path / "missing"])
    assert len(files) == 3
    assert {(Path(hit.path).name, hit.line, hit.form) for hit in hits} == {
        ("ts_log.log", 2, "text"),
        ("model_log.log", 1, "utf-16-le"),
        ("access_log.01-Dec.log.gz", 1, "hex"),
    }
    assert all(CANARY.lower() not in hit.excerpt.lower() for hit in hits)
    assert "'Shares fell <CANARY>'" in next(hit.excerpt for hit in hits if hit.form == "text")


def _run_result() -> RunResult:
    case = raw("issue-1", "issue", "a lone surrogate", b"x", "application/json", 400)
    died = Answer(503, 0.1, "error", error_type="InternalServerException", message="m")
    failing = _case_result(
        case, died, neighbours=[NeighbourAnswer("n", 503, 0.1, False)], shared_batch="failed-together"
    )
    failing.problems = judge_case(case, failing)
    holding = _case_result(case, Answer(400, 0.1, "error", error_type="InvalidInput", message="m"))
    holding.name = "contract-1"
    result = RunResult(command="python -m reliability", started="now", quick=True, machine={"cpu": "x"}, limits={})
    result.cases = [failing, holding]
    result.drain = DrainResult(12, 0, {"reset": 12}, 0, 2.0, ["12 of 12 accepted requests lost (12× reset)"], 12)
    full = '{"code": 503, "type": "ServiceUnavailableException", "message": "Model \\"bert\\" has no worker"}'
    overload = LoadSummary("4x", 160, 20, 3200, {"200": 800, "503": 2400}, {"200": {"p50": 1, "p99": 2, "max": 3}},
                           deadline_seconds=10)  # fmt: skip
    result.overload = OverloadResult(
        40, 16, 10, 10, 100, [overload], 200, 0.5, full, "503 " + full, '200 {"status": "Healthy"}'
    )
    result.kill = KillResult(overload, 123, 8, 8, 12.5, 456, 1.5)
    result.unloadable = [UnloadableResult(30, 120, 38.0, 8.0, 90, ["/ping said Healthy for 38 s (limit 30 s)"])]
    hit = {"path": "/x/ts_log.log", "line": 3, "form": "text", "excerpt": "[ERROR] in string: 'a <CANARY>'"}
    result.canary = CanaryResult(CANARY, ["a.log"], [hit], ["1 hit"])
    return result


def test_records_round_trip_through_json():
    result = _run_result()
    again = from_json(to_json(result))
    assert again == result
    assert isinstance(again.cases[0].bad[0], Answer)
    assert again.drain.statuses == {"reset": 12}


def test_the_report_summarises_every_check_and_names_what_failed():
    result = _run_result()
    text = render_markdown(result)
    assert "| neighbours unharmed, in the bad input's batch | 1 of 2 kinds (1 neighbours) | **no** |" in text
    assert "| answered as the contract says | 1 of 2 kinds | **no** |" in text
    assert (
        "| SIGTERM to `serve`: requests lost, exit | 12 of 12; exit 0 after 2.0 s; unanswered at SIGTERM: 12 |" in text
    )
    assert "| model that cannot load: /ping Healthy for | 38.0 s | **no** |" in text
    assert "| `issue-1` | issue | a lone surrogate |" in text
    assert "| ts_log.log | text | 1 | `[ERROR] in string: 'a <CANARY>'` |" in text
    assert "| overload at 4x: statuses | 200: 800, 503: 2400 | yes |" in text
    assert 'Queue full: `503 Model "bert" has no worker`' in text
    assert "| worker SIGKILL: failed requests, recovery | 8 (batch size 8), 12.5 s | yes |" in text
    assert "| soak " not in text  # a phase that did not run is not summarised
    problems = all_problems(result)
    assert "issue-1: 1 of 1 neighbours harmed (503)" in problems
    assert "drain: 12 of 12 accepted requests lost (12× reset)" in problems
    assert not [p for p in problems if p.startswith("contract-1")]
