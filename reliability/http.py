"""A raw HTTP/1.1 client over a socket, so a request can be exactly as hostile as a case needs.

`requests` normalises what we want to test: it merges duplicate headers, picks its own header spelling, adds
Content-Length, and cannot send a malformed chunked body. Here a `RawRequest` is written byte for byte and the
answer is parsed with the standard library's `http.client.HTTPResponse`.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

CRLF = b"\r\n"


@dataclass(frozen=True)
class RawRequest:
    """One request as written on the wire. `path` is appended to the model's prediction URL unless absolute."""

    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    """Sent in this order and spelling; Host, Content-Length and Connection are added unless present."""
    method: str = "POST"
    path: str = ""
    """Extra path or query after the model URL (e.g. `?text=x`), or an absolute path starting with `/`."""
    chunked: bool = False
    """Send the body as `Transfer-Encoding: chunked` (in 64 KiB chunks) instead of with a Content-Length."""
    raw_body: bytes | None = None
    """Bytes written after the headers instead of the (encoded) body: for malformed chunked framing."""
    version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first header of that name, case-insensitively (what the server is likely to read)."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)


@dataclass
class Reply:
    """What came back: status 0 means no HTTP answer at all (`error` says why)."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0
    error: str | None = None
    """`timeout`, `reset`, `closed`, or an exception name when no status line arrived."""
    finished: float = 0.0
    """`time.perf_counter()` when the exchange ended (answer read, or given up)."""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def encode_request(request: RawRequest, host: str, target: str) -> bytes:
    """The request's bytes: request line, headers (with the defaults a client adds), body."""
    names = {key.lower() for key, _ in request.headers}
    headers = list(request.headers)
    if "host" not in names:
        headers.insert(0, ("Host", host))
    if request.raw_body is None and request.chunked and "transfer-encoding" not in names:
        headers.append(("Transfer-Encoding", "chunked"))
    elif request.raw_body is None and not request.chunked and "content-length" not in names:
        headers.append(("Content-Length", str(len(request.body))))
    if "connection" not in names:
        headers.append(("Connection", "close"))
    head = f"{request.method} {target} {request.version}".encode("latin-1") + CRLF
    head += b"".join(f"{key}: {value}".encode("latin-1") + CRLF for key, value in headers) + CRLF
    if request.raw_body is not None:
        return head + request.raw_body
    return head + (_chunked(request.body) if request.chunked else request.body)


def _chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    chunks = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(f"{len(chunk):x}".encode() + CRLF + chunk + CRLF for chunk in chunks) + b"0" + CRLF + CRLF


def target_of(base_url: str, request: RawRequest) -> tuple[str, int, str]:
    """(host, port, request target) for `request` sent to `base_url` (e.g. the model's prediction URL)."""
    parts = urlsplit(base_url)
    path = request.path if request.path.startswith("/") else parts.path + request.path
    return parts.hostname or "127.0.0.1", parts.port or 80, path or "/"


def send(base_url: str, request: RawRequest, timeout: float) -> Reply:
    """Send `request` on a fresh connection and read the whole answer; never raises for network trouble."""
    host, port, target = target_of(base_url, request)
    started = time.perf_counter()
    reply = Reply()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            _send_all(sock, encode_request(request, f"{host}:{port}", target))
            response = http.client.HTTPResponse(sock, method=request.method)
            response.begin()
            reply.status = response.status
            reply.headers = {key.lower(): value for key, value in response.getheaders()}
            reply.body = response.read()
    except TimeoutError:
        reply.error = "timeout"
    except http.client.RemoteDisconnected:  # a ConnectionResetError too: test it first
        reply.error = "closed"
    except (ConnectionResetError, BrokenPipeError):
        reply.error = "reset"
    except (OSError, http.client.HTTPException) as error:
        reply.error = type(error).__name__
    reply.finished = time.perf_counter()
    reply.seconds = reply.finished - started
    return reply


def _send_all(sock: socket.socket, data: bytes) -> None:
    """Write everything, but keep going to read an early answer: the server may refuse a large body (413) and
    close before reading it all, which is an answer, not a failure."""
    with contextlib.suppress(ConnectionResetError, BrokenPipeError):  # the answer may already be waiting
        sock.sendall(data)
