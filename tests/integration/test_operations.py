"""Everyday operations against the real TorchServe: versions, scaling, auth, readiness, logs."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter

import pytest
import requests

from tests.integration.conftest import ROOT, archive
from tools.manage import main as manage_main
from tools.management_client import ManagementClient, rollout, wait_ready
from tools.server import LocalTorchServe, wait_for

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


def test_version_rollout_under_continuous_requests_loses_none(server, versions):
    client = ManagementClient(server.management_url)
    client.register("ops_v1.mar", model_name="ops", workers=1)
    url = f"{server.inference_url}/predictions/ops"
    text = {"text": "Markets rallied as the central bank held interest rates."}
    v1_score = score(requests.post(url, json=text, timeout=30))
    statuses, scores, stop = Counter(), [], threading.Event()

    def keep_sending():
        deadline = time.monotonic() + 120  # bounded even if the test body fails
        with requests.Session() as session:
            while not stop.is_set() and time.monotonic() < deadline:
                response = session.post(url, json=text, timeout=30)
                statuses[response.status_code] += 1
                if response.ok:
                    scores.append(score(response))

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        wait_for(lambda: sum(statuses.values()) >= 5, 30, "requests before the rollout")
        rollout(client, "ops", "ops_v2.mar", "2.0", "1.0", inference_url=server.inference_url)
        sent_before = sum(statuses.values())
        wait_for(lambda: sum(statuses.values()) >= sent_before + 5, 30, "requests after the rollout")
    finally:
        stop.set()
        sender.join(timeout=60)
    assert set(statuses) == {200}, f"failed requests during the rollout: {statuses}"
    assert sum(statuses.values()) >= 10
    assert scores[0] == pytest.approx(v1_score)
    assert scores[-1] != pytest.approx(v1_score), "requests were not routed to version 2.0 after set-default"
    assert [m["modelVersion"] for m in client.describe("ops")] == ["2.0"]
    client.unregister("ops")


def test_scaling_workers_up_and_down_through_the_client(server):
    client = ManagementClient(server.management_url)
    client.scale("tiny", 2)
    assert client.ready_workers("tiny") == (2, 2)
    client.scale("tiny", 1)
    assert wait_for(lambda: client.ready_workers("tiny") == (1, 1), 60, "scale down to 1 worker")
    assert requests.post(f"{server.inference_url}/predictions/tiny", json={"text": "x"}, timeout=30).ok


def test_register_applies_the_asked_workers_and_batching_over_the_archives_own(server, versions):
    """ops_v1.mar carries the shipped model-config.yaml (2 workers, batchSize 8): TorchServe alone would keep its
    2 workers and ignore initial_workers=1."""
    client = ManagementClient(server.management_url)
    client.register("ops_v1.mar", model_name="sized", workers=1, batch_size=4, max_batch_delay=20)
    try:
        [description] = client.describe("sized")
        assert (description["minWorkers"], description["maxWorkers"]) == (1, 1)
        assert (description["batchSize"], description["maxBatchDelay"]) == (4, 20)
        assert wait_for(lambda: client.ready_workers("sized") == (1, 1), 60, "one READY worker")
    finally:
        client.unregister("sized")


def test_input_text_and_authorization_header_never_reach_the_logs(server, predict):
    secret_text = "zebra-quokka-7731 confidential merger talks"
    secret_token = "Bearer tok-5fe1b2c3d4"
    headers = {"Authorization": secret_token}
    assert predict(json={"data": [secret_text]}, headers=headers).status_code == 200
    assert predict(json={"data": [secret_text, 3]}, headers=headers).status_code == 400
    assert predict(secret_text.encode() + b"\xff", headers={"Content-Type": "text/plain"}).status_code == 400
    wait_for(lambda: "errors=1" in server.model_log(), 10, "the batch log line of the bad request")
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
    for chatter in ("[DEBUG]", "Sending response for jobId", "result=[METRICS]"):
        assert not [line for line in new_ts if chatter in line], chatter
    assert sum('"POST /predictions/tiny' in line for line in new_ts) == 10  # the access line, once each


def test_with_token_auth_on_requests_without_the_key_are_refused(model_store, capsys):
    # As `make serve AUTH=on` does: `wait-ready` starts before TorchServe has written its key file, and an old
    # file with stale keys is lying there.
    server = LocalTorchServe(model_store=model_store, extra_config={"disable_token_authorization": "false"})
    key_file = server.workdir / "key_file.json"
    stale = {"management": {"key": "old"}, "inference": {"key": "old"}, "API": {"key": "old"}}
    key_file.write_text(json.dumps(stale))
    server.start("tiny=tiny.mar")
    try:
        urls = ["--management", server.management_url, "--inference", server.inference_url]
        assert manage_main([*urls, "--key-file", str(key_file), "wait-ready", "tiny", "--timeout", "240"]) == 0
        assert json.loads(capsys.readouterr().out)["token_auth"] is True
        keys = json.loads(key_file.read_text())
        management, inference = keys["management"]["key"], keys["inference"]["key"]
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


def test_a_model_that_cannot_load_turns_ping_unhealthy_and_logs_why(tmp_path, tiny_bert_dir):
    config = tmp_path / "broken-model-config.yaml"
    config.write_text((ROOT / "model-config.yaml").read_text().replace("max_length: 256", "max_length: 3"))
    store = tmp_path / "store"
    archive(tiny_bert_dir, store, "broken", config=config)
    server = LocalTorchServe(model_store=store).start("broken=broken.mar")
    started = time.monotonic()
    try:

        def unhealthy():
            try:
                return requests.get(f"{server.inference_url}/ping", timeout=5).status_code != 200
            except requests.ConnectionError:
                return False

        wait_for(unhealthy, 90, "/ping to report the failed model")
        assert time.monotonic() - started < 75  # maxRetryTimeoutInSec is 30; JVM start and retries add some
        assert "max_length must be at least 8" in server.all_logs()
    finally:
        server.stop()
        server.cleanup()


def test_json_log_format_writes_one_json_object_per_line(model_store):
    server = LocalTorchServe(model_store=model_store, log_config=ROOT / "log4j2-json.xml")
    server.start("tiny=tiny.mar")
    try:
        wait_ready(ManagementClient(server.management_url), "tiny", inference_url=server.inference_url, timeout=240)
        requests.post(f"{server.inference_url}/predictions/tiny", json={"text": "x"}, timeout=30)
        wait_for(lambda: "batch requests=" in server.model_log(), 30, "the batch log line")
        for name in ("ts_log.log", "model_log.log", "access_log.log"):
            lines = (server.log_dir / name).read_text().splitlines()
            records = [json.loads(line) for line in lines]
            assert records, name
            assert all({"time", "message"} <= set(record) for record in records)
    finally:
        server.stop()
        server.cleanup()
