"""A client for TorchServe's management API (port 8081), built on `requests`; `tools.manage` is its CLI.

Every call raises `ManagementError` (carrying TorchServe's status and message) on a non-2xx answer.
"""

from __future__ import annotations

import json
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


def wait_ready_reading_keys(
    model: str,
    *,
    management_url: str = DEFAULT_MANAGEMENT,
    inference_url: str = DEFAULT_INFERENCE,
    key_file: str | Path | None = None,
    timeout: float = 180.0,
    version: str | None = None,
) -> tuple[ManagementClient, float]:
    """`wait_ready`, re-reading `key_file` between short tries: with token authorization on, TorchServe writes
    new keys to key_file.json a moment after `torchserve --start` returns (a file left by an earlier start holds
    old keys). Returns the client with the keys that worked and the seconds waited."""
    started = time.monotonic()
    while True:
        management_key, inference_key = read_keys(key_file)
        client = ManagementClient(management_url, token=management_key)
        left = timeout - (time.monotonic() - started)
        try:
            wait_ready(
                client,
                model,
                inference_url=inference_url,
                inference_token=inference_key,
                timeout=max(0.0, min(KEY_RETRY_SECONDS, left)),
                version=version,
            )
            return client, time.monotonic() - started
        except TimeoutError as error:
            if left <= KEY_RETRY_SECONDS:
                raise TimeoutError(f"not ready after {timeout:.0f}s; last try: {error}") from None


def read_keys(key_file: str | Path | None) -> tuple[str | None, str | None]:
    """(management key, inference key) from TorchServe's key_file.json when token authorization is on."""
    if not key_file or not Path(key_file).is_file():
        return None, None
    keys = json.loads(Path(key_file).read_text())
    return keys["management"]["key"], keys["inference"]["key"]


def token_auth_enabled(management_url: str) -> bool:
    """TorchServe refuses a keyless management call with InvalidKeyException when token auth is on."""
    response = requests.get(f"{management_url}/models", timeout=10)
    return response.status_code == 400 and "InvalidKeyException" in response.text
