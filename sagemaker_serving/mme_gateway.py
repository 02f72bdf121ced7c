"""The public port of a multi-model endpoint: only the routes SageMaker's MME contract uses reach TorchServe.

TorchServe 0.12 speaks the MME contract itself, but only with its whole management API on the container's port:
whoever reaches that port could also scale workers (`PUT /models/<name>`), change default versions, register a
folder anywhere in the container or a model under any name. So TorchServe listens on loopback only, and this
gateway, on `$SM_BIND_HOST:$SAGEMAKER_BIND_TO_PORT`, passes on exactly:

    GET  /ping                          health
    POST /invocations                   TorchServe's own routing (one model: that one)
    GET  /models                        list (limit, next_page_token)
    POST /models                        load: a JSON body {"model_name", "url"} whose url is a folder under
                                        /opt/ml/models (where SageMaker extracts each model.tar.gz); else 403
    GET  /models/<name>                 describe
    DELETE /models/<name>               unload
    POST /models/<name>/invoke          classify with that model

Anything else is a 404 from the gateway; the request never reaches TorchServe. Bodies and headers pass unchanged
(hop-by-hop headers aside); the answer is TorchServe's. A body over the request limit is the gateway's 413, and
TorchServe not answering (stopped, restarting) its 503.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from pathlib import Path

log = logging.getLogger(__name__)

NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
ROUTES = (
    ("GET", re.compile(r"/ping")),
    ("POST", re.compile(r"/invocations")),
    ("GET", re.compile(r"/models")),
    ("POST", re.compile(r"/models")),
    ("GET", re.compile(rf"/models/{NAME}")),
    ("DELETE", re.compile(rf"/models/{NAME}")),
    ("POST", re.compile(rf"/models/{NAME}/invoke")),
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


class Refused(Exception):
    """A request the gateway does not pass on: `status` and a message for the JSON error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def check_route(method: str, path: str) -> None:
    """Raise `Refused` (404) unless the MME contract uses `method` on `path`."""
    if not any(method == allowed and pattern.fullmatch(path) for allowed, pattern in ROUTES):
        raise Refused(404, "not a route of a SageMaker multi-model endpoint")


def check_load(body: bytes, query: str, models_dir: Path) -> None:
    """Raise `Refused` (403) unless a load is SageMaker's: a JSON body naming a folder under `models_dir`."""
    if query:
        raise Refused(403, "a load takes a JSON body {model_name, url}, no query parameters")
    try:
        document = json.loads(body)
    except ValueError:
        raise Refused(403, "a load takes a JSON body {model_name, url}") from None
    if not isinstance(document, dict) or set(document) - {"model_name", "url"}:
        raise Refused(403, "a load takes a JSON body with the fields model_name and url only")
    url, name = document.get("url"), document.get("model_name")
    if not isinstance(name, str) or not re.fullmatch(NAME, name):
        raise Refused(403, "model_name must be 1-128 letters, digits, '.', '_' or '-'")
    if not isinstance(url, str) or not Path(url).is_absolute():
        raise Refused(403, f"url must be a folder under {models_dir}")
    folder, root = Path(url).resolve(), models_dir.resolve()
    if folder == root or root not in folder.parents:
        raise Refused(403, f"url must be a folder under {models_dir}")


class Gateway:
    """An aiohttp server on `host:port` passing the MME routes on to TorchServe at `upstream`."""

    def __init__(self, host: str, port: int, upstream: str, models_dir: Path, max_body: int) -> None:
        self.host, self.port, self.upstream, self.models_dir = host, port, upstream, models_dir
        self.max_body = max_body
        """TorchServe's `max_request_size`: larger bodies are refused before they are buffered."""
        self.ready = threading.Event()

    def start_in_thread(self) -> threading.Thread:
        """Serve on a daemon thread (it ends with the process); returns once the port is bound."""
        thread = threading.Thread(target=lambda: asyncio.run(self._serve()), name="mme-gateway", daemon=True)
        thread.start()
        if not self.ready.wait(timeout=30):
            raise RuntimeError(f"the multi-model gateway did not bind {self.host}:{self.port}")
        return thread

    async def _serve(self) -> None:
        import aiohttp
        from aiohttp import web

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            app = web.Application(client_max_size=self.max_body)

            async def forward(request):
                return await self._forward(request, session)

            app.router.add_route("*", "/{path:.*}", forward)
            runner = web.AppRunner(app, access_log=None, handle_signals=False)
            await runner.setup()
            await web.TCPSite(runner, self.host, self.port).start()
            log.info("multi-model gateway on %s:%d -> %s", self.host, self.port, self.upstream)
            self.ready.set()
            await asyncio.Event().wait()  # until the process exits

    async def _forward(self, request, session):
        import aiohttp
        from aiohttp import web

        body = await request.read()
        try:
            check_route(request.method, request.path)
            if request.method == "POST" and request.path == "/models":
                check_load(body, request.query_string, self.models_dir)
        except Refused as refused:
            return web.json_response({"code": refused.status, "message": refused.message}, status=refused.status)
        headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_BY_HOP}
        url = f"{self.upstream}{request.path_qs}"
        try:
            async with session.request(request.method, url, data=body, headers=headers) as answer:
                payload = await answer.read()
                kept = {name: value for name, value in answer.headers.items() if name.lower() not in HOP_BY_HOP}
                return web.Response(status=answer.status, body=payload, headers=kept)
        except aiohttp.ClientConnectionError:
            return web.json_response({"code": 503, "message": "the model server is not answering; retry"}, status=503)
