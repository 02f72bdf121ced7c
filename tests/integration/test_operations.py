"""Everyday operations against the real TorchServe: versions, scaling, auth, readiness, logs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml

from tests.integration.batches import batches_after
from tests.integration.conftest import ROOT, archive
from tools.management_client import ManagementClient, rollout, wait_ready
from tools.server import EVERY_BATCH_LOGGED, LocalTorchServe, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def versions(model_store, tmp_path_factory):
    """`ops` v1.0 and v2.0: two tiny models with different weights, so answers show which version served."""
    from tests.conftest import save_tiny_bert

    folder = tmp_path_factory.mktemp("ops")
    archive(save_tiny_bert(folder / "v1", seed=1), model_store, "ops_v1", version="1.0")
    archive(save_tiny_bert(folder / "v2", seed=2), model_store, "ops_v2", version="2.0")
    return model_store


def score(response: requests.Response) -> float:
    return response.json()["score"]


CLIENTS = 4


@pytest.mark.parametrize("server", ["shipped"], indirect=True)
def test_version_rollout_under_continuous_requests_loses_none(server, versions):
    """Several clients send requests in a loop through the whole rollout; every request counts, including one
    that raised (a connection reset, or a timeout when TorchServe drops a request in an unregistered worker)."""
    client = ManagementClient(server.management_url)
    client.register("ops_v1.mar", model_name="ops", workers=1)
    url = f"{server.inference_url}/predictions/ops"
    text = {"text": "Markets rallied as the central bank held interest rates."}
    v1_score = score(requests.post(url, json=text, timeout=30))
    outcomes: list[list[tuple[object, float | None]]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()

    def keep_sending(record: list) -> None:
        deadline = time.monotonic() + 180  # bounded even if the test body fails
        with requests.Session() as session:
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    response = session.post(url, json=text, timeout=30)
                except requests.RequestException as error:
                    record.append((type(error).__name__, None))
                else:
                    record.append((response.status_code, score(response) if response.ok else None))

    senders = [threading.Thread(target=keep_sending, args=(record,)) for record in outcomes]
    for sender in senders:
        sender.start()
    try:
        wait_for(lambda: all(len(record) >= 3 for record in outcomes), 60, "every client's requests before the rollout")
        rollout(client, "ops", "ops_v2.mar", "2.0", "1.0", inference_url=server.inference_url)
        sent = [len(record) for record in outcomes]
        wait_for(
            lambda: all(len(record) >= n + 3 for record, n in zip(outcomes, sent, strict=True)),
            60,
            "every client's requests after the rollout",
        )
    finally:
        stop.set()
        wait_for(lambda: not any(sender.is_alive() for sender in senders), 60, "the clients to finish")
    statuses = Counter(status for record in outcomes for status, _ in record)
    assert set(statuses) == {200}, f"failed requests during the rollout: {statuses}"
    for record in outcomes:
        assert record[0][1] == pytest.approx(v1_score)
        assert record[-1][1] != pytest.approx(v1_score), "requests were not routed to version 2.0 after set-default"
    assert [m["modelVersion"] for m in client.describe("ops")] == ["2.0"]
    client.unregister("ops")


@pytest.mark.parametrize("server", ["one-worker-batching"], indirect=True)
def test_scaling_workers_up_and_down_through_the_client(server):
    client = ManagementClient(server.management_url)
    client.scale("tiny", 2)
    assert client.ready_workers("tiny") == (2, 2)
    client.scale("tiny", 1)
    assert wait_for(lambda: client.ready_workers("tiny") == (1, 1), 60, "scale down to 1 worker")
    assert requests.post(f"{server.inference_url}/predictions/tiny", json={"text": "x"}, timeout=30).ok


def register_with_the_client(server, name: str) -> None:
    client = ManagementClient(server.management_url)
    client.register("ops_v1.mar", model_name=name, workers=1, batch_size=4, max_batch_delay=20)


def register_with_the_cli(server, name: str) -> None:
    command = [sys.executable, "-m", "tools.manage", "--management", server.management_url, "register"]
    command += ["ops_v1.mar", "--model-name", name, "--workers", "1", "--batch-size", "4", "--max-batch-delay", "20"]
    subprocess.run(command, cwd=ROOT, check=True, timeout=300)


def register_with_make(server, name: str) -> None:
    """`make register` names the model after the archive (ops_v1), as TorchServe does without model_name."""
    assert name == "ops_v1"
    command = ["make", "--no-print-directory", "-C", str(ROOT), "register", f"VENV={Path(sys.prefix)}"]
    command += [f"MANAGEMENT={server.management_url}", "MAR_FILE=ops_v1.mar", "WORKERS=1"]
    command += ["BATCH_SIZE=4", "MAX_BATCH_DELAY=20"]
    subprocess.run(command, check=True, timeout=300)


@pytest.mark.parametrize("server", ["shipped"], indirect=True)
@pytest.mark.parametrize(
    ("register", "name"),
    [(register_with_the_client, "sized"), (register_with_the_cli, "sized_cli"), (register_with_make, "ops_v1")],
    ids=["client", "cli", "make"],
)
def test_register_applies_the_asked_workers_and_batching_over_the_archives_own(server, versions, register, name):
    """ops_v1.mar carries the shipped model-config.yaml (2 workers, batchSize 8): TorchServe alone would keep its
    2 workers and ignore initial_workers=1 (docs/operating.md: `make register WORKERS=1`,
    `tools.manage register --workers 1`)."""
    client = ManagementClient(server.management_url)
    register(server, name)
    try:
        [description] = client.describe(name)
        assert (description["minWorkers"], description["maxWorkers"]) == (1, 1)
        assert (description["batchSize"], description["maxBatchDelay"]) == (4, 20)
        assert wait_for(lambda: client.ready_workers(name) == (1, 1), 60, "one READY worker")
    finally:
        client.unregister(name)


def test_input_text_and_authorization_header_never_reach_the_logs(server, predict):
    secret_text = "zebra-quokka-7731 confidential merger talks"
    secret_token = "Bearer tok-5fe1b2c3d4"
    headers = {"Authorization": secret_token}
    seen_model_log, seen_logs = len(server.model_log()), server.all_logs().count("ErrorDataDecoderException")
    assert predict(json={"data": [secret_text]}, headers=headers).status_code == 200
    assert predict(json={"data": [secret_text, 3]}, headers=headers).status_code == 400
    assert predict(secret_text.encode() + b"\xff", headers={"Content-Type": "text/plain"}).status_code == 400
    # A form value with a stray '%': TorchServe's decoder fails with an exception whose message quotes the body.
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert predict(f"text={secret_text} 50% off".encode(), headers=form).status_code == 500
    # TorchServe also reads inputs from query parameters, and its access log writes the whole request line.
    hidden = server.all_logs().count("/predictions/tiny?<query hidden>")
    predict(json={"text": "x"}, path="tiny?text=" + secret_text.replace(" ", "+"))
    wait_for(lambda: server.all_logs().count("/predictions/tiny?<query hidden>") > hidden, 30, "the access line")
    wait_for(
        lambda: sum(batch.errors for batch in batches_after(server, seen_model_log)) >= 2,
        30,
        "the batch log lines of the bad requests",
    )
    wait_for(lambda: server.all_logs().count("ErrorDataDecoderException") > seen_logs, 30, "the frontend's exception")
    logs = server.all_logs()
    assert "zebra-quokka" not in logs
    assert "tok-5fe1b2c3d4" not in logs


def test_the_frontend_logs_each_request_once_without_torchserves_per_request_debug_lines(server, predict):
    ts_log, access_log = server.log_dir / "ts_log.log", server.log_dir / "access_log.log"
    seen_ts, seen_access = len(ts_log.read_text().splitlines()), len(access_log.read_text().splitlines())
    for _ in range(10):
        assert predict(json={"text": "a quiet request"}).status_code == 200
    wait_for(lambda: len(access_log.read_text().splitlines()) >= seen_access + 10, 10, "ten access log lines")
    new_access = access_log.read_text().splitlines()[seen_access:]
    assert sum('"POST /predictions/tiny' in line for line in new_access) == 10
    new_ts = ts_log.read_text().splitlines()[seen_ts:]
    per_request_or_batch = (
        *("[DEBUG]", "Sending response for jobId", "result=[METRICS]", "Looping backend response"),
        *("Backend response time", "Backend received inference", '"POST /predictions/tiny'),
    )
    for chatter in per_request_or_batch:
        assert not [line for line in new_ts if chatter in line], chatter
    assert "Backend received inference" not in (server.log_dir / "model_log.log").read_text()


@pytest.mark.parametrize("server", ["shipped"], indirect=True)
def test_each_worker_keeps_every_thread_to_cores_of_its_own(server):
    """Two workers, `cpu_affinity: auto`: each on as many cores as it runs threads, none shared (where the host has
    more cores than one worker's threads)."""
    import psutil

    allowed = os.sched_getaffinity(0)
    threads = max(1, len(allowed) // 2)  # the shipped 2 workers share the cores out
    if threads >= len(allowed):
        pytest.skip("one worker's threads take every core: nothing to pin")
    workers = [p.pid for p in psutil.Process(server.process.pid).children(recursive=True)
               if "model_service_worker" in " ".join(p.cmdline())]  # fmt: skip
    cores = []
    for pid in workers:
        per_thread = {frozenset(os.sched_getaffinity(int(t))) for t in os.listdir(f"/proc/{pid}/task")}
        assert len(per_thread) == 1, per_thread
        cores.append(per_thread.pop())
    assert len(workers) == 2
    assert [len(c) for c in cores] == [threads, threads]
    assert not cores[0] & cores[1]
    logged = re.findall(r"tiny_[\d.]+-stdout MODEL_LOG - loaded model .* cores=([\d,]+) ", server.model_log())
    assert sorted(logged) == sorted(",".join(map(str, sorted(c))) for c in cores)


def test_the_frontend_starts_no_thread_per_batch(server, predict):
    """TorchServe hands each batch to its worker with CompletableFuture.runAsync: with a common pool of parallelism
    1 (a host of 2 cores or fewer) that is a new thread per batch. config.properties gives the pool 2 threads."""
    import psutil

    from tests.integration.jvm_counters import long_counters

    [java] = [p.pid for p in psutil.Process(server.process.pid).children(recursive=True) if p.name() == "java"]
    assert predict(json={"text": "warm"}).status_code == 200  # the pool's threads start once
    started = long_counters(java)["java.threads.started"]
    for _ in range(20):  # one request at a time: twenty batches
        assert predict(json={"text": "a quiet request"}).status_code == 200
    assert long_counters(java)["java.threads.started"] - started < 5


def manage_cli(server, *arguments: str) -> subprocess.CompletedProcess:
    """`python -m tools.manage` run from the directory TorchServe was started in, without `--key-file`."""
    urls = ["--management", server.management_url, "--inference", server.inference_url]
    command = [sys.executable, "-m", "tools.manage", *urls, *arguments]
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(command, cwd=server.workdir, env=environment, capture_output=True, text=True, timeout=300)


def test_with_token_auth_on_requests_without_the_key_are_refused_and_the_cli_reads_the_key_file(model_store):
    # As `make serve AUTH=on` does: `wait-ready` starts before TorchServe has written its key file, and an old
    # file with stale keys is lying there.
    server = LocalTorchServe(model_store=model_store, extra_config={"disable_token_authorization": "false"})
    key_file = server.workdir / "key_file.json"
    stale = {"management": {"key": "old"}, "inference": {"key": "old"}, "API": {"key": "old"}}
    key_file.write_text(json.dumps(stale))
    server.start("tiny=tiny_batching.mar")
    try:
        ready = manage_cli(server, "wait-ready", "tiny", "--timeout", "240")
        assert ready.returncode == 0, ready.stderr
        assert json.loads(ready.stdout)["token_auth"] is True
        listed = manage_cli(server, "list")  # the management key, read from ./key_file.json
        assert listed.returncode == 0, listed.stderr
        assert [model["modelName"] for model in json.loads(listed.stdout)] == ["tiny"]
        keys = json.loads(key_file.read_text())
        management, inference = keys["management"]["key"], keys["inference"]["key"]
        assert "old" not in (management, inference)
        client = ManagementClient(server.management_url, token=management)
        url = f"{server.inference_url}/predictions/tiny"
        refused = requests.post(url, json={"text": "x"}, timeout=30)
        wrong = requests.post(url, json={"text": "x"}, headers={"Authorization": "Bearer nope"}, timeout=30)
        allowed = requests.post(url, json={"text": "x"}, headers={"Authorization": f"Bearer {inference}"}, timeout=30)
        assert refused.status_code == wrong.status_code == 400
        assert refused.json()["type"] == "InvalidKeyException"
        assert allowed.status_code == 200
        assert requests.get(f"{server.management_url}/models", timeout=10).status_code == 400
        assert client.list_models()[0]["modelName"] == "tiny"
    finally:
        server.stop()
        server.cleanup()


def max_retry_timeout_seconds() -> float:
    return float(yaml.safe_load((ROOT / "model-config.yaml").read_text())["maxRetryTimeoutInSec"])


def test_a_model_that_cannot_load_turns_ping_unhealthy_max_retry_timeout_after_its_first_failure(
    tmp_path, tiny_bert_dir
):
    """docs/operating.md: `maxRetryTimeoutInSec` (model-config.yaml) after a worker first fails to load, /ping
    answers 500 Unhealthy. TorchServe starts that clock at the first failure (`Auto recovery start timestamp: <ms>`
    in its log), so every /ping sent after it + `maxRetryTimeoutInSec` must be unhealthy."""
    config = tmp_path / "broken-model-config.yaml"
    config.write_text((ROOT / "model-config.yaml").read_text().replace("max_length: 256", "max_length: 3"))
    store = tmp_path / "store"
    archive(tiny_bert_dir, store, "broken", config=config)
    server = LocalTorchServe(model_store=store).start("broken=broken.mar")
    pings: list[tuple[float, int | None]] = []  # (wall-clock time sent, status)

    def unhealthy() -> bool:
        sent = time.time()
        try:
            status = requests.get(f"{server.inference_url}/ping", timeout=5).status_code
        except requests.ConnectionError:
            status = None
        pings.append((sent, status))
        return status not in (None, 200)

    try:
        wait_for(unhealthy, 180, "/ping to report the failed model", interval=0.1)
        starts = re.findall(r"Auto recovery start timestamp: (\d+)", server.all_logs())
        first_failure = min(int(ms) for ms in starts) / 1000  # TorchServe's System.currentTimeMillis()
        bound = first_failure + max_retry_timeout_seconds()
        late = [round(sent - first_failure, 1) for sent, status in pings if status == 200 and sent >= bound]
        assert not late, f"/ping still Healthy {late} s after the first failed load"
        assert "max_length must be at least 8" in server.all_logs()
    finally:
        server.stop()
        server.cleanup()


def test_json_log_format_writes_one_json_object_per_line(model_store):
    server = LocalTorchServe(model_store=model_store, log_config=ROOT / "log4j2-json.xml", env=EVERY_BATCH_LOGGED)
    server.start("tiny=tiny_batching.mar")
    try:
        wait_ready(ManagementClient(server.management_url), "tiny", inference_url=server.inference_url, timeout=240)
        requests.post(f"{server.inference_url}/predictions/tiny?text=zebra-quokka", json={"text": "x"}, timeout=30)
        wait_for(lambda: "batch requests=" in server.model_log(), 30, "the batch log line")
        for name in ("ts_log.log", "model_log.log", "access_log.log"):
            lines = (server.log_dir / name).read_text().splitlines()
            records = [json.loads(line) for line in lines]
            assert records, name
            assert all({"time", "message"} <= set(record) for record in records)
            assert "zebra-quokka" not in "".join(lines)  # the query string is hidden here too
    finally:
        server.stop()
        server.cleanup()
