"""tools.endpoint_checks (what `make image-test` checks over HTTP): /ping's bound is enforced, and only checks are
counted as passed or failed (a figure such as the image's size is reported for information)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from tools.endpoint_checks import PING_REPLY_S, Check, ping_check, report, timed_pings

pytestmark = pytest.mark.unit


def test_every_ping_must_answer_200_within_the_bound():
    assert ping_check([0.01, PING_REPLY_S], "while busy").ok
    slow = ping_check([0.01, PING_REPLY_S + 0.5], "while busy")
    assert not slow.ok
    assert slow.detail == "2/2 answered 200, slowest 2.50 s"
    assert slow.name == "/ping answered within 2 s while busy"
    assert not ping_check([0.01, None], "while busy").ok  # no 200
    assert not ping_check([], "while busy").ok


@pytest.fixture
def ping_server() -> Iterator[tuple[str, list[int]]]:
    """A local HTTP server answering /ping with the statuses queued in the list it yields (200 when empty)."""
    statuses: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", statuses
    server.shutdown()
    server.server_close()


def test_pings_are_timed_and_an_unhealthy_answer_has_no_time(ping_server):
    url, statuses = ping_server
    statuses += [200, 503]

    times = timed_pings(url, count=3)

    assert times[1] is None
    assert all(0 < seconds < PING_REPLY_S for seconds in (times[0], times[2]))


def test_only_checks_are_counted_a_reported_figure_neither_passes_nor_fails(capsys):
    assert report([Check("image size", None, "1.9 GB"), Check("start-up", True, "12 s")]) == 0
    assert report([Check("image size", None, "1.9 GB"), Check("/ping", False, "slow")]) == 1

    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["info", "image", "size", "1.9", "GB"]
    assert "image-check: 1 passed, 0 failed" in out
    assert "image-check: 0 passed, 1 failed" in out
