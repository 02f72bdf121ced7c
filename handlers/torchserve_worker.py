"""What the handler trims from TorchServe 0.12's Python worker, per batch, once the worker has loaded it.

TorchServe is archived at 0.12.0, so these costs are permanent unless worked around here (installed files stay
untouched). Measured on short texts at concurrency 16 in docs/performance.md:

- Its worker reads each message from the frontend one field at a time, one `recv` system call per field (about
  20 per request: ids, every header's name and value, every input's name, type and value). `buffer_socket_reads`
  swaps in a reader that takes what the socket already holds and serves the fields from that.
- It logs two lines per batch: `Backend received inference at: <time>` and the `PredictionTime` gauge. Each is a
  write to stdout that the frontend reads, parses and writes to its own logs again. `drop_per_batch_lines`
  filters both out; `bert_model_milliseconds_total` and the access log carry the same facts.
"""

from __future__ import annotations

import logging
import sys
import weakref

PREDICTION_TIME = "[METRICS]PredictionTime."
"""The worker's per-batch gauge (logger `ts.metrics.caching_metric`), a duplicate of `bert_model_milliseconds_total`."""
RECEIVED_AT = "Backend received inference at: "
"""The worker's per-batch line (root logger), logged after each inference message is read."""
READ_SIZE = 65536
"""Bytes asked of the socket per `recv`: a batch of eight headlines is about 4 KB, so one call usually reads it."""
PATCHED_VERSION = "0.12.0"
"""The TorchServe release whose `ts.protocol.otf_message_handler._retrieve_buffer` the buffered reader replaces (the
last release: the project is archived). Any other version keeps its own reader."""

log = logging.getLogger(__name__)
_buffers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def drop_per_batch_lines() -> None:
    """Filter the worker's two per-batch log lines; every other line still reaches the log."""
    logging.getLogger("ts.metrics.caching_metric").addFilter(_not_prediction_time)
    logging.getLogger().addFilter(_not_received_at)


def buffer_socket_reads() -> bool:
    """Make TorchServe 0.12.0's message reader buffer its socket; False (and nothing changed) on any other version.

    The reader is the only one of the worker's socket (the worker reads nothing else from it), so reading ahead is
    safe: the bytes of the next message wait in the buffer for the next call."""
    from ts.protocol import otf_message_handler
    from ts.version import __version__

    reader = otf_message_handler._retrieve_buffer
    if reader is read_buffered:
        return True
    if __version__ != PATCHED_VERSION or reader.__code__.co_varnames[:2] != ("conn", "length"):
        log.info("TorchServe %s: its socket reader is kept as it is", __version__)
        return False
    otf_message_handler._retrieve_buffer = read_buffered
    return True


def read_buffered(conn, length: int) -> bytearray:
    """The next `length` bytes from `conn`, as TorchServe's `_retrieve_buffer` returns them (a bytearray), reading
    at least `READ_SIZE` at a time. A closed socket ends the worker as TorchServe's does: the frontend is gone."""
    buffer = _buffers.get(conn)
    if buffer is None:
        buffer = _buffers[conn] = bytearray()
    while len(buffer) < length:
        chunk = conn.recv(max(READ_SIZE, length - len(buffer)))
        if not chunk:
            logging.info("Frontend disconnected.")
            sys.exit(0)
        buffer += chunk
    data = buffer[:length]
    del buffer[:length]  # CPython moves a bytearray's start rather than its bytes
    return data


def _not_prediction_time(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith(PREDICTION_TIME)


def _not_received_at(record: logging.LogRecord) -> bool:
    return not (isinstance(record.msg, str) and record.msg.startswith(RECEIVED_AT))
