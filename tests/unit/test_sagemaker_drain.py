"""`sagemaker_serving.drain.wait_until_idle` against a stand-in management API (a local HTTP server that
answers TorchServe's describe format), with real activity markers."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bert_classifier.activity import ACTIVITY_DIR_VARIABLE, busy
from sagemaker_serving.drain import queued_requests, wait_until_idle

pytestmark = pytest.mark.unit


@pytest.fixture
def management():
    """A management API whose model has `state["pending"]` queued requests."""
    state = {"pending": 0}

    class Describe(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/models":
                body = {"models": [{"modelName": "model", "modelUrl": "model"}]}
            else:
                body = [{"modelName": "model", "jobQueueStatus": {"pendingRequests": state["pending"]}}]
            payload = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Describe)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", state
    server.shutdown()


def test_idle_at_once_when_nothing_is_queued_or_running(management, tmp_path):
    url, _ = management
    assert wait_until_idle(url, tmp_path, time.monotonic() + 5, settle=0.1)


def test_waits_for_the_queue_to_empty(management, tmp_path):
    url, state = management
    state["pending"] = 3
    threading.Timer(0.5, state.update, kwargs={"pending": 0}).start()
    started = time.monotonic()
    assert wait_until_idle(url, tmp_path, started + 5, settle=0.1)
    assert time.monotonic() - started >= 0.5


def test_waits_for_a_busy_worker(management, tmp_path):
    url, _ = management
    release = threading.Event()

    def worker():
        with busy({ACTIVITY_DIR_VARIABLE: str(tmp_path)}):
            release.wait(5)

    threading.Thread(target=worker).start()
    threading.Timer(0.5, release.set).start()
    started = time.monotonic()
    assert wait_until_idle(url, tmp_path, started + 5, settle=0.1)
    assert time.monotonic() - started >= 0.5


def test_gives_up_at_the_deadline_or_when_the_server_stops(management, tmp_path):
    url, state = management
    state["pending"] = 1
    assert not wait_until_idle(url, tmp_path, time.monotonic() + 0.3, settle=0.1)
    assert not wait_until_idle(url, tmp_path, time.monotonic() + 30, running=lambda: False)


def test_a_management_api_that_does_not_answer_has_nothing_queued():
    assert queued_requests("http://127.0.0.1:9") == 0
