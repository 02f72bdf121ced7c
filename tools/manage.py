"""A small client for TorchServe's management API (port 8081), built on `requests`, with a CLI.

python -m tools.manage list
python -m tools.manage describe bert_news_classification
python -m tools.manage register bert_news_classification.mar --workers 1 --batch-size 16 --max-batch-delay 5
python -m tools.manage scale bert_news_classification --workers 2
python -m tools.manage set-default bert_news_classification 2.0
python -m tools.manage unregister bert_news_classification --version 1.0
python -m tools.manage wait-ready bert_news_classification --timeout 120
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

DEFAULT_MANAGEMENT = "http://127.0.0.1:8081"
DEFAULT_INFERENCE = "http://127.0.0.1:8080"
WARM_UP = {"text": "Shares rose after the company reported higher profits."}
KEY_RETRY_SECONDS = 5.0
"""How long `wait-ready` tries with the keys it read before it reads key_file.json again."""


class ManagementError(RuntimeError):
    """TorchServe answered with an error status; the message is TorchServe's."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass
class ManagementClient:
    """Thin wrapper over the management API; every method raises `ManagementError` on a non-2xx answer."""

    base_url: str = DEFAULT_MANAGEMENT
    token: str | None = None
    timeout: float = 300.0

    def list_models(self) -> list[dict]:
        return self._call("GET", "/models")["models"]

    def describe(self, model: str, version: str | None = None) -> list[dict]:
        return self._call("GET", _model_path(model, version))

    def register(
        self,
        url: str,
        *,
        model_name: str | None = None,
        workers: int | None = None,
        batch_size: int | None = None,
        max_batch_delay: int | None = None,
    ) -> dict:
        """Register an archive (a file name in the model store) and wait until its workers are READY.

        TorchServe 0.12 lets the archive's model-config.yaml `minWorkers`/`maxWorkers` win over the API's
        `initial_workers` (while `batch_size` and `max_batch_delay` override the archive's), so `workers`, when
        given, is applied by scaling the new version right after it registered. None keeps the archive's count.
        Registering and scaling are asynchronous and then polled: TorchServe 0.12 waits for a synchronous call's
        workers on a network thread its inference connections share, so the requests of every client on that
        thread stall until the workers have started (a client timed out during a rollout under load).
        Raises `TimeoutError` if the workers are not READY within `timeout` (the version stays registered).
        """
        before = self._model_urls()
        params = {
            "url": url,
            "initial_workers": workers,
            "synchronous": "false",
            "model_name": model_name,
            "batch_size": batch_size,
            "max_batch_delay": max_batch_delay,
        }
        self._call("POST", "/models", params={k: v for k, v in params.items() if v is not None})
        name = model_name or self._registered_name(url, before)
        [version] = [m["modelVersion"] for m in self.describe(name, "all") if m.get("modelUrl") == url]
        if workers is not None and self.describe(name, version)[0].get("minWorkers") != workers:
            self.scale(name, workers, version)
        ready = self._wait_for_workers(name, version)
        return {"status": f'Model "{name}" Version: {version} registered with {ready} workers'}

    def unregister(self, model: str, version: str | None = None) -> dict:
        return self._call("DELETE", _model_path(model, version))

    def scale(self, model: str, workers: int, version: str | None = None) -> dict:
        """Set min and max workers to `workers` and wait until exactly that many are READY (asynchronous, then
        polled, for the reason in `register`)."""
        params = {"min_worker": workers, "max_worker": workers, "synchronous": "false"}
        self._call("PUT", _model_path(model, version), params=params)
        self._wait_for_workers(model, version)
        return {
            "status": f"Workers scaled to {workers} for model: {model}" + (f", version: {version}" if version else "")
        }

    def set_default(self, model: str, version: str) -> dict:
        return self._call("PUT", f"/models/{model}/{version}/set-default")

    def drain(self, model: str, version: str, grace_seconds: float = 5.0, timeout: float = 120.0) -> None:
        """Wait until `version` has no queued requests and `grace_seconds` have passed for the ones in a worker.

        Call it after switching the default version away from `version` and before unregistering it:
        TorchServe 0.12 drops a request that a worker is still processing when its version is unregistered.
        """
        started = time.monotonic()
        wait_until = started + grace_seconds
        while time.monotonic() < started + timeout:
            pending = self.describe(model, version)[0].get("jobQueueStatus", {}).get("pendingRequests", 0)
            if pending == 0 and time.monotonic() >= wait_until:
                return
            time.sleep(0.25)  # polling interval; the grace period is the drain policy, the timeout bounds it
        raise TimeoutError(f"{model}/{version} still has queued requests after {timeout:.0f}s")

    def _wait_for_workers(self, model: str, version: str | None) -> int:
        """Poll until the version runs exactly its `minWorkers` workers, all READY; return that number."""
        deadline = time.monotonic() + self.timeout
        while True:
            description = self.describe(model, version)[0]
            states = [worker.get("status") for worker in description.get("workers", [])]
            wanted = int(description.get("minWorkers", 1))
            if len(states) == wanted and states.count("READY") == wanted:
                return wanted
            if time.monotonic() > deadline:
                raise TimeoutError(f"{model}/{version}: workers {states}, {wanted} wanted, after {self.timeout:.0f}s")
            time.sleep(0.25)  # polling interval; the deadline bounds the wait

    def _model_urls(self) -> set[tuple[str, str]]:
        """(model name, archive URL of its default version) of every registered model, all pages."""
        pairs, token = set(), None
        while True:
            page = self._call("GET", "/models", params={"limit": 100, "next_page_token": token} if token else None)
            pairs |= {(model["modelName"], model["modelUrl"]) for model in page["models"]}
            token = page.get("nextPageToken")
            if not token:
                return pairs

    def _registered_name(self, url: str, before: set[tuple[str, str]]) -> str:
        """The name TorchServe gave `url` registered without `model_name` (the archive's own)."""
        new = {name for name, model_url in self._model_urls() - before if model_url == url}
        if len(new) != 1:
            raise ManagementError(200, f"cannot tell which model {url} was registered as ({sorted(new)}): name it")
        return new.pop()

    def ready_workers(self, model: str, version: str | None = None) -> tuple[int, int]:
        """(workers READY, workers wanted) for the model's default (or given) version."""
        description = self.describe(model, version)[0]
        ready = sum(worker.get("status") == "READY" for worker in description.get("workers", []))
        return ready, int(description.get("minWorkers", 1))

    def _call(self, method: str, path: str, params: dict | None = None):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = requests.request(method, self.base_url + path, params=params, headers=headers, timeout=self.timeout)
        if not response.ok:
            raise ManagementError(response.status_code, _message(response))
        return response.json() if response.content else {}


def rollout(
    client: ManagementClient,
    model: str,
    archive: str,
    new_version: str,
    old_version: str,
    *,
    inference_url: str = DEFAULT_INFERENCE,
    workers: int | None = None,
    grace_seconds: float = 5.0,
) -> None:
    """Replace `old_version` by `new_version` without stopping the server or failing a request.

    Register the new archive next to the old one, wait until it answers, make it the default, drain the old
    version, then unregister it.
    """
    client.register(archive, model_name=model, workers=workers)
    wait_ready(client, model, inference_url=inference_url, version=new_version)
    client.set_default(model, new_version)
    client.drain(model, old_version, grace_seconds)
    client.unregister(model, old_version)


def wait_ready(
    client: ManagementClient,
    model: str,
    *,
    inference_url: str = DEFAULT_INFERENCE,
    inference_token: str | None = None,
    timeout: float = 180.0,
    version: str | None = None,
) -> float:
    """Poll until all wanted workers are READY *and* a warm-up prediction returns 200; return seconds waited.

    TorchServe's /ping says Healthy while workers are still loading, so it is not enough. Raises
    `TimeoutError` with the last thing seen when `timeout` passes.
    """
    started = time.monotonic()
    last = "no answer yet"
    while time.monotonic() - started < timeout:
        try:
            ready, wanted = client.ready_workers(model, version)
            last = f"{ready}/{wanted} workers READY"
            if wanted > 0 and ready >= wanted:
                status = _warm_up(inference_url, model, version, inference_token)
                last = f"warm-up prediction answered HTTP {status}"
                if status == 200:
                    return time.monotonic() - started
        except (requests.RequestException, ManagementError, IndexError) as error:
            last = str(error)
        time.sleep(0.25)  # polling interval, not synchronisation: the deadline above bounds the wait
    raise TimeoutError(f"{model} not ready after {timeout:.0f}s: {last}")


def _warm_up(inference_url: str, model: str, version: str | None, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"{inference_url}/predictions/{_model_path(model, version).removeprefix('/models/')}"
    return requests.post(url, json=WARM_UP, headers=headers, timeout=30).status_code


def _model_path(model: str, version: str | None) -> str:
    return f"/models/{model}" + (f"/{version}" if version else "")


def _message(response: requests.Response) -> str:
    try:
        return response.json().get("message", response.text)
    except ValueError:
        return response.text or response.reason


def wait_ready_reading_keys(args: argparse.Namespace) -> tuple[ManagementClient, float]:
    """`wait_ready` for the CLI, re-reading the key file between short tries: with token authorization on,
    TorchServe writes new keys to key_file.json a moment after `torchserve --start` returns (a file left by an
    earlier start holds old keys)."""
    started = time.monotonic()
    while True:
        management_key, inference_key = read_keys(args.key_file)
        client = ManagementClient(args.management, token=management_key)
        left = args.timeout - (time.monotonic() - started)
        try:
            wait_ready(
                client,
                args.model,
                inference_url=args.inference,
                inference_token=inference_key,
                timeout=max(0.0, min(KEY_RETRY_SECONDS, left)),
                version=args.version,
            )
            return client, time.monotonic() - started
        except TimeoutError as error:
            if left <= KEY_RETRY_SECONDS:
                raise TimeoutError(f"not ready after {args.timeout:.0f}s; last try: {error}") from None


def read_keys(key_file: str | None) -> tuple[str | None, str | None]:
    """(management key, inference key) from TorchServe's key_file.json when token authorization is on."""
    if not key_file or not Path(key_file).is_file():
        return None, None
    keys = json.loads(Path(key_file).read_text())
    return keys["management"]["key"], keys["inference"]["key"]


def token_auth_enabled(management_url: str) -> bool:
    """TorchServe refuses a keyless management call with InvalidKeyException when token auth is on."""
    response = requests.get(f"{management_url}/models", timeout=10)
    return response.status_code == 400 and "InvalidKeyException" in response.text


def startup_summary(client: ManagementClient, args: argparse.Namespace, seconds: float) -> dict:
    """What is running, printed by `make serve`: addresses, auth, and the model's batching and workers."""
    description = client.describe(args.model, args.version)[0]
    return {
        "model": f"{description['modelName']}/{description['modelVersion']}",
        "ready_after_seconds": round(seconds, 1),
        "inference": args.inference,
        "management": args.management,
        "token_auth": token_auth_enabled(args.management),
        "workers": len(description.get("workers", [])),
        "batch_size": description.get("batchSize"),
        "max_batch_delay_ms": description.get("maxBatchDelay"),
        "handler": "settings, device, dtype and torch threads: the worker's start-up line in logs/model_log.log",
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.manage", description="TorchServe management client")
    parser.add_argument("--management", default=DEFAULT_MANAGEMENT, help="management API base URL")
    parser.add_argument("--inference", default=DEFAULT_INFERENCE, help="inference API base URL")
    parser.add_argument("--key-file", default="key_file.json", help="TorchServe key file when auth is on")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list registered models")
    for name, text in (
        ("describe", "workers and settings of a model"),
        ("unregister", "remove a model version"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("model")
        command.add_argument("--version")
    register = commands.add_parser("register", help="register an archive from the model store")
    register.add_argument("url", help="archive file name in the model store, e.g. bert_news_classification.mar")
    register.add_argument("--model-name")
    register.add_argument("--workers", type=int, help="default: the archive's model-config.yaml minWorkers")
    register.add_argument("--batch-size", type=int)
    register.add_argument("--max-batch-delay", type=int, help="milliseconds")
    scale = commands.add_parser("scale", help="set the number of workers")
    scale.add_argument("model")
    scale.add_argument("--workers", type=int, required=True)
    scale.add_argument("--version")
    default = commands.add_parser("set-default", help="route /predictions/<model> to a version")
    default.add_argument("model")
    default.add_argument("version")
    roll = commands.add_parser("rollout", help="register a new version, make it the default, drain and remove the old")
    roll.add_argument("model")
    roll.add_argument("archive", help="the new version's archive in the model store")
    roll.add_argument("--new-version", required=True)
    roll.add_argument("--old-version", required=True)
    roll.add_argument("--workers", type=int, help="default: the new archive's model-config.yaml minWorkers")
    roll.add_argument("--grace-seconds", type=float, default=5.0, help="drain time for in-flight requests")
    ready = commands.add_parser("wait-ready", help="wait until workers are READY and a prediction succeeds")
    ready.add_argument("model")
    ready.add_argument("--version")
    ready.add_argument("--timeout", type=float, default=180.0)
    return parser


def run(args: argparse.Namespace) -> object:
    if args.command == "wait-ready":
        client, seconds = wait_ready_reading_keys(args)
        return startup_summary(client, args, seconds)
    management_key, _ = read_keys(args.key_file)
    client = ManagementClient(args.management, token=management_key)
    if args.command == "rollout":
        rollout(
            client,
            args.model,
            args.archive,
            args.new_version,
            args.old_version,
            inference_url=args.inference,
            workers=args.workers,
            grace_seconds=args.grace_seconds,
        )
        return client.describe(args.model)
    actions = {
        "list": lambda: client.list_models(),
        "describe": lambda: client.describe(args.model, args.version),
        "unregister": lambda: client.unregister(args.model, args.version),
        "register": lambda: client.register(
            args.url,
            model_name=args.model_name,
            workers=args.workers,
            batch_size=args.batch_size,
            max_batch_delay=args.max_batch_delay,
        ),
        "scale": lambda: client.scale(args.model, args.workers, args.version),
        "set-default": lambda: client.set_default(args.model, args.version),
    }
    return actions[args.command]()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(json.dumps(run(args), indent=2))
    except (ManagementError, TimeoutError, requests.RequestException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
