"""What the handler trims from TorchServe's worker: buffered socket reads and two per-batch log lines."""

from __future__ import annotations

import logging
import socket
import struct
import threading

import pytest
from ts.protocol import otf_message_handler

import torchserve_worker
from torchserve_worker import buffer_socket_reads, drop_per_batch_lines, read_buffered


def field(value: bytes) -> bytes:
    return struct.pack("!i", len(value)) + value


def inference_message(bodies: list[bytes]) -> bytes:
    """An inference message as TorchServe's frontend frames it (otf_message_handler's format): per request its id,
    headers and inputs, each list ended by -1."""
    end = struct.pack("!i", -1)
    message = b"I"
    for index, body in enumerate(bodies):
        message += field(f"request-{index}".encode())
        message += field(b"Content-Type") + field(b"application/json") + field(b"Accept") + field(b"*/*") + end
        message += field(b"body") + field(b"application/json") + field(body) + end
    return message + end


class CountingSocket:
    """A socket that counts its `recv` calls."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.calls = sock, 0

    def recv(self, size: int) -> bytes:
        self.calls += 1
        return self.sock.recv(size)


@pytest.fixture
def frontend():
    """(the frontend's end, the worker's end, counted) of a connected socket pair."""
    ours, theirs = socket.socketpair()
    yield ours, CountingSocket(theirs)
    ours.close()
    theirs.close()


@pytest.fixture
def original_reader():
    """TorchServe's own reader (tests/conftest.py puts it back after each test)."""
    return otf_message_handler._retrieve_buffer


def send(sock: socket.socket, data: bytes) -> None:
    """Send from another thread: a 200 KB message does not fit a socket pair's buffer until the reader reads."""
    threading.Thread(target=sock.sendall, args=(data,), daemon=True).start()


def test_buffered_reads_parse_messages_as_torchserves_reader_does_with_far_fewer_recv_calls(
    frontend, original_reader, monkeypatch
):
    monkeypatch.setenv("TS_DECODE_INPUT_REQUEST", "false")
    ours, worker = frontend
    short, long = inference_message([b'{"text": "a"}', b'{"text": "b"}']), inference_message([b"x" * 200_000])
    send(ours, short + long)
    expected = [otf_message_handler.retrieve_msg(worker), otf_message_handler.retrieve_msg(worker)]
    unbuffered_calls, worker.calls = worker.calls, 0

    assert buffer_socket_reads()
    send(ours, short + long + short)  # back to back: what is read ahead waits in the buffer for the next message
    got = [otf_message_handler.retrieve_msg(worker) for _ in range(3)]

    assert got == [*expected, expected[0]]
    assert got[1][1][0]["parameters"][0]["value"] == b"x" * 200_000
    assert unbuffered_calls > 40
    assert worker.calls < 12


def test_a_closed_frontend_ends_the_worker_as_torchserves_reader_does(frontend):
    ours, worker = frontend
    ours.sendall(b"I")
    ours.close()
    assert read_buffered(worker, 1) == bytearray(b"I")
    with pytest.raises(SystemExit):
        read_buffered(worker, 4)


def test_another_torchserve_version_keeps_its_own_reader(original_reader, monkeypatch):
    import ts.version

    monkeypatch.setattr(ts.version, "__version__", "0.13.0")
    assert not buffer_socket_reads()
    assert otf_message_handler._retrieve_buffer is original_reader


def test_the_two_per_batch_lines_are_dropped_and_the_rest_of_the_log_stays(caplog, monkeypatch):
    root, metrics = logging.getLogger(), logging.getLogger("ts.metrics.caching_metric")
    monkeypatch.setattr(root, "filters", list(root.filters))
    monkeypatch.setattr(metrics, "filters", list(metrics.filters))
    drop_per_batch_lines()
    with caplog.at_level(logging.INFO):
        logging.info("Backend received inference at: %d", 1796617401)
        logging.info("Model loaded")
        metrics.info("[METRICS]PredictionTime.Milliseconds:3.2|#ModelName:m")
        metrics.info("[METRICS]bert_batches_total.Count:1|#ModelName:m")
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ["Model loaded", "[METRICS]bert_batches_total.Count:1|#ModelName:m"]
    torchserves_lines = [c for c in otf_message_handler.retrieve_msg.__code__.co_consts if isinstance(c, str)]
    assert any(line.startswith(torchserve_worker.RECEIVED_AT) for line in torchserves_lines)
