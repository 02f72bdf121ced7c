"""`make kserve-bundle`'s storage folder, served by the real TorchServe started the way KServe's runtimes start it:
`torchserve --start --model-store <bundle>/model-store --ts-config <bundle>/config/config.properties`.

Two things differ from a pod, and only these: the storage mount /mnt/models is the bundle's folder here (the
paths in a copy of config.properties are rewritten), and the addresses move to loopback on free ports through
`TS_*` environment variables, which the bundle's `enable_envvars_config=true` lets override the file — the way
KServe's runtime passes its own settings. Everything else (model_snapshot, security switches, metrics
declarations, log configuration, JVM settings) is the bundle's own, and TorchServe starts with the ServingRuntime's
own arguments and environment, its writable folders (/tmp, the logs) mapped into a work folder and the working
directory read-only, as the pod's root filesystem is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
import yaml

from tools.kserve_bundle import MOUNT, read_properties, write_bundle
from tools.kserve_manifests import LOG_DIR, POD_TMP, serving_runtime
from tools.management_client import ManagementClient, wait_ready
from tools.server import free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MODEL = "bert_news_classification"
TEXTS = ["Shares fell 5% after the profit warning.", "The striker scored twice in the derby."]


@dataclass
class BundleServer:
    inference_url: str
    management_url: str
    metrics_url: str
    workdir: Path
    launcher: subprocess.Popen

    def post(self, path: str, body: dict) -> requests.Response:
        return requests.post(f"{self.inference_url}{path}", json=body, timeout=60)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.workdir.rglob("*.log")))


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, tiny_bert_dir) -> Path:
    output = tmp_path_factory.mktemp("kserve") / "bundle"
    write_bundle(model_dir=tiny_bert_dir, output=output, model_name=MODEL)
    return output


def mounted_at(bundle: Path, workdir: Path) -> Path:
    """A copy of the bundle's config.properties with the pod's storage mount replaced by the bundle's folder."""
    text = (bundle / "config" / "config.properties").read_text()
    assert f"{MOUNT}/" in text
    copy = workdir / "config.properties"
    copy.write_text(text.replace(f"{MOUNT}/", f"{bundle}/"))
    return copy


@pytest.fixture(scope="module")
def served(bundle, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("kserve-serve")
    (workdir / "tmp").mkdir()
    (workdir / "logs").mkdir()
    root = workdir / "read-only-root"  # the working directory, unwritable like the pod's root filesystem
    root.mkdir(mode=0o555)
    [container] = serving_runtime("IMAGE")["spec"]["containers"]
    writable = {POD_TMP: str(workdir / "tmp"), LOG_DIR: str(workdir / "logs")}
    ports = {name: free_port() for name in ("inference", "management", "metrics", "grpc", "grpc_mgmt", "worker")}
    env = {
        **os.environ,
        **{variable["name"]: writable[variable["value"]] for variable in container["env"]},
        "TEMP": str(workdir / "tmp"),
        "TS_INFERENCE_ADDRESS": f"http://127.0.0.1:{ports['inference']}",
        "TS_MANAGEMENT_ADDRESS": f"http://127.0.0.1:{ports['management']}",
        "TS_METRICS_ADDRESS": f"http://127.0.0.1:{ports['metrics']}",
        "TS_GRPC_INFERENCE_PORT": str(ports["grpc"]),
        "TS_GRPC_MANAGEMENT_PORT": str(ports["grpc_mgmt"]),
        "TS_INITIAL_WORKER_PORT": str(ports["worker"]),
    }
    torchserve = str(Path(sys.executable).with_name("torchserve"))
    mounted = {
        f"--model-store={MOUNT}/model-store": f"--model-store={bundle / 'model-store'}",
        f"--ts-config={MOUNT}/config/config.properties": f"--ts-config={mounted_at(bundle, workdir)}",
    }
    command = [torchserve, *(mounted.get(arg, arg) for arg in container["args"])]
    assert container["command"][-1] == "torchserve"
    launcher = subprocess.Popen(
        command, cwd=root, env=env, stdout=(workdir / "stdout.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    server = BundleServer(
        inference_url=env["TS_INFERENCE_ADDRESS"],
        management_url=env["TS_MANAGEMENT_ADDRESS"],
        metrics_url=env["TS_METRICS_ADDRESS"],
        workdir=workdir,
        launcher=launcher,
    )
    try:
        wait_ready(ManagementClient(server.management_url), MODEL, inference_url=server.inference_url, timeout=240)
        yield server
    except BaseException:
        print(server.logs()[-6000:])
        raise
    finally:
        subprocess.run([torchserve, "--stop"], env=env, cwd=workdir, capture_output=True, timeout=60, check=False)
        launcher.wait(timeout=60)
        with contextlib.suppress(ProcessLookupError):  # the detached frontend and workers share the group
            os.killpg(launcher.pid, signal.SIGKILL)


def test_the_bundle_holds_what_the_runtime_reads(bundle):
    assert sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()) == [
        "config/config.properties",
        "config/log4j2.xml",
        "config/metrics.yaml",
        f"model-store/{MODEL}.mar",
    ]


def test_the_snapshot_registers_the_model_with_model_config_yamls_settings(served):
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    description = requests.get(f"{served.management_url}/models/{MODEL}", timeout=10).json()[0]
    assert description["minWorkers"] == shipped["minWorkers"]
    assert description["maxWorkers"] == shipped["maxWorkers"]
    assert description["batchSize"] == shipped["batchSize"]
    assert description["maxBatchDelay"] == shipped["maxBatchDelay"]
    assert description["responseTimeout"] == shipped["responseTimeout"]
    assert [worker["status"] for worker in description["workers"]] == ["READY"] * shipped["minWorkers"]


def test_predictions_classify_each_text(served):
    response = served.post(f"/predictions/{MODEL}", {"data": TEXTS})
    assert response.status_code == 200, response.text
    assert [set(result) >= {"label", "label_id", "score"} for result in response.json()] == [True, True]


def test_kserve_v1_predict_answers_one_prediction_per_instance(served):
    response = served.post(f"/v1/models/{MODEL}:predict", {"instances": TEXTS})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(TEXTS)
    assert all("label" in prediction for prediction in predictions)


def test_open_inference_protocol_v2_infer_answers_a_label_tensor(served):
    body = {"id": "r1", "inputs": [{"name": "text", "shape": [len(TEXTS)], "datatype": "BYTES", "data": TEXTS}]}
    response = served.post(f"/v2/models/{MODEL}/infer", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["id"] == "r1"
    labels = next(output for output in answer["outputs"] if output["name"] == "label")
    assert labels["shape"] == [len(TEXTS)]
    assert labels["datatype"] == "BYTES"


def test_metrics_port_serves_torchserves_and_the_handlers_metrics(served):
    assert served.post(f"/predictions/{MODEL}", {"text": TEXTS[0]}).status_code == 200
    metrics = requests.get(f"{served.metrics_url}/metrics", timeout=10).text
    assert "ts_inference_requests_total" in metrics
    assert "bert_texts_total" in metrics  # declared in the bundle's config/metrics.yaml


def test_security_switches_hold_in_the_pod(served, bundle):
    assert requests.get(f"{served.inference_url}/models", timeout=10).status_code == 404  # no management there
    register = requests.post(f"{served.management_url}/models", params={"url": "x.mar"}, timeout=10)
    assert register.status_code == 405  # enable_model_api=false: nothing registers models at run time
    properties = read_properties(bundle / "config" / "config.properties")
    assert properties["management_address"].startswith("http://127.0.0.1:")
    assert properties["allowed_urls"] == read_properties(ROOT / "config.properties")["allowed_urls"]


def test_the_projects_log_configuration_is_in_force(served):
    """log4j2.xml (through vmargs) drops TorchServe's per-request DEBUG lines; its default would write them."""
    assert served.post(f"/predictions/{MODEL}", {"text": TEXTS[1]}).status_code == 200
    ts_log = served.workdir / "logs" / "ts_log.log"
    wait_for(ts_log.exists, 30, "ts_log.log")
    assert "[DEBUG]" not in ts_log.read_text(errors="replace")


def test_torchserve_writes_nothing_outside_the_pods_writable_folders(served):
    """The runtime's read-only root filesystem: --ncs writes no config snapshot, the logs go to LOG_LOCATION."""
    assert served.post(f"/predictions/{MODEL}", {"text": TEXTS[0]}).status_code == 200
    assert list((served.workdir / "read-only-root").iterdir()) == []
    assert (served.workdir / "logs" / "ts_log.log").exists()
    assert not list(served.workdir.rglob("*.cfg"))  # TorchServe's snapshots (<time>-startup.cfg) without --ncs
