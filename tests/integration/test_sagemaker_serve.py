"""The image's entrypoint, `python -m sagemaker_serving.serve serve`, run on this host as the image runs it.

A temporary folder stands in for /opt/ml (`SM_OPT_ML`), TorchServe binds 127.0.0.1 (`SM_BIND_HOST`) on free
ports, and the process gets its own TMPDIR. Everything a SageMaker endpoint or Batch Transform job relies on is
checked against the real TorchServe: /ping, /invocations per content type, Accept, 415/406/413, the custom
attributes header, where the management API listens, and a clean exit 0 on SIGTERM.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import requests
import yaml

from bert_classifier.messages import Request
from bert_classifier.service import InferenceService
from bert_classifier.settings import read_settings
from tests.conftest import save_tiny_bert
from tools.archive import build_archive
from tools.sagemaker_artifact import build_artifact
from tools.server import free_port, free_port_range, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 180
STOP_DEADLINE = 30
IN_FLIGHT = 12
JSON = {"Content-Type": "application/json"}
TEXTS = [
    "Shares in the bank rose 5% after profits beat forecasts.",
    "The striker scored twice as the champions won 3-1.",
    "A new smartphone chip promises longer battery life.",
    'Parliament voted on the bill late on Tuesday, said "officials", with 300 votes',
    "Ticket sales for the film broke box office records.",
]


@dataclass
class Serve:
    """One `serve` process and where it listens."""

    process: subprocess.Popen
    url: str
    management_url: str
    log_path: Path
    descendants: list[psutil.Process] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def post(self, body: bytes | str, content_type: str | None, **headers) -> requests.Response:
        if content_type:
            headers["Content-Type"] = content_type
        return requests.post(f"{self.url}/invocations", data=body, headers=headers, timeout=60)

    def kill(self) -> None:
        """Teardown after a failure: SIGKILL this process and everything it started."""
        for process in [*self._current_descendants(), *self.descendants]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def _current_descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []


def start_serve(opt_ml: Path, workdir: Path, **environment: str) -> Serve:
    """Start the entrypoint like the image does (same PYTHONPATH and argument) and wait until it classifies."""
    port, internal = free_port(), free_port_range(4)
    tmp = workdir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "handlers")]),
        "TOKENIZERS_PARALLELISM": "false",
        "SM_OPT_ML": str(opt_ml),
        "SM_BIND_HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_SAFE_PORT_RANGE": f"{internal}-{internal + 3}",
        "TMPDIR": str(tmp),
        **environment,
    }
    log_path = workdir / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "sagemaker_serving.serve", "serve"],
        cwd=workdir,
        env=env,
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    serve = Serve(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal}", log_path)
    try:
        wait_for(lambda: _classifies(serve), READY_TIMEOUT, "serve to answer /invocations")
    except BaseException:
        print(serve.log()[-6000:])
        serve.kill()
        raise
    serve.descendants = serve._current_descendants()
    return serve


def _classifies(serve: Serve) -> bool:
    """TorchServe's /ping says Healthy while the worker still loads: a prediction is the real readiness test."""
    if serve.process.poll() is not None:
        raise AssertionError(f"serve exited with {serve.process.returncode}:\n{serve.log()[-6000:]}")
    try:
        return serve.post(b'{"text": "warm up"}', "application/json").status_code == 200
    except requests.RequestException:
        return False


def stop_with_sigterm(serve: Serve) -> tuple[int, float]:
    """SIGTERM, as `docker stop` and SageMaker send it; (exit status, seconds taken), polled to a deadline."""
    started = time.monotonic()
    serve.process.send_signal(signal.SIGTERM)
    wait_for(lambda: serve.process.poll() is not None, STOP_DEADLINE, "serve to exit")
    return serve.process.returncode, time.monotonic() - started


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """/opt/ml/model as SageMaker fills it: `make sagemaker-artifact`'s model.tar.gz, extracted (model files and
    code/). A wider initialisation of the tiny model makes each text's scores distinct."""
    work = tmp_path_factory.mktemp("artifact")
    settings = work / "model-config.yaml"  # handler settings chosen at packaging time: top 2 labels per text
    # and one engine, so the in-process answers compare exactly (`auto` would probe in each process)
    shipped = (ROOT / "model-config.yaml").read_text().replace("top_k: 1", "top_k: 2")
    settings.write_text(shipped.replace("engine: auto", "engine: torch").replace("precision: auto", "precision: fp32"))
    saved = save_tiny_bert(work / "saved", initializer_range=0.2)
    artifact = build_artifact(saved, work / "model.tar.gz", model_config=settings)
    with tarfile.open(artifact) as archive:
        archive.extractall(work / "opt-ml" / "model", filter="data")
    assert (work / "opt-ml" / "model" / "code" / "inference.py").is_file()
    return work / "opt-ml" / "model"


@pytest.fixture(scope="module")
def serve(model_dir, tmp_path_factory):
    instance = start_serve(
        model_dir.parent,
        tmp_path_factory.mktemp("serve"),
        SAGEMAKER_MAX_PAYLOAD_IN_MB="1",
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
        SAGEMAKER_MODEL_SERVER_TIMEOUT="30",
        SAGEMAKER_TS_BATCH_SIZE="4",
        SAGEMAKER_TS_MAX_BATCH_DELAY="10",
    )
    yield instance
    instance.kill()


@pytest.fixture(scope="module")
def expected(model_dir):
    """What the served model must answer: the same model and handler settings, called in process."""
    handler_settings = yaml.safe_load((model_dir / "code" / "model-config.yaml").read_text())["handler"]
    assert handler_settings["top_k"] == 2
    service = InferenceService.load(model_dir, read_settings(handler_settings, env={}))
    results = json.loads(service.handle(Request({"data": TEXTS}, "application/json")).body)
    assert len({result["score"] for result in results}) == len(TEXTS), "scores must differ to check order"
    return results


def assert_same_results(served: list[dict], expected: list[dict]) -> None:
    assert [result["label"] for result in served] == [result["label"] for result in expected]
    assert [result["score"] for result in served] == pytest.approx([r["score"] for r in expected], abs=1e-5)


def test_ping_is_healthy(serve):
    response = requests.get(f"{serve.url}/ping", timeout=10)
    assert response.status_code == 200
    assert response.json()["status"] == "Healthy"


def test_execution_parameters_is_404_so_batch_transform_uses_the_jobs_own_settings(serve):
    assert requests.get(f"{serve.url}/execution-parameters", timeout=10).status_code == 404


def test_json_invocation_answers_like_the_in_process_service(serve, expected):
    response = serve.post(json.dumps({"data": TEXTS}), "application/json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert_same_results(response.json(), expected)
    assert [len(result["scores"]) for result in response.json()] == [2] * len(TEXTS)  # the artifact's top_k


def test_jsonlines_gives_one_output_line_per_input_line_in_order(serve, expected):
    body = "".join(json.dumps({"text": text}) + "\n" for text in TEXTS)
    response = serve.post(body.encode(), "application/jsonlines")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/jsonlines"
    lines = response.text.splitlines()
    assert len(lines) == len(TEXTS)
    assert_same_results([json.loads(line) for line in lines], expected)


def test_csv_gives_one_output_line_per_input_line_in_order(serve, expected):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([text] for text in TEXTS)  # quotes the comma/quote text
    response = serve.post(buffer.getvalue().encode(), "text/csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert len(rows) == len(TEXTS)
    served = [{"label": label, "label_id": int(label_id), "score": float(score)} for label, label_id, score in rows]
    assert_same_results(served, expected)


@pytest.mark.parametrize(
    ("content_type", "body", "accept", "answer_type"),
    [
        ("text/csv", "\n".join(TEXTS[:2]), "application/jsonlines", "application/jsonlines"),
        ("application/json", json.dumps({"data": TEXTS[:2]}), "text/csv", "text/csv"),
        ("application/jsonlines", '"one"\n"two"\n', "application/json", "application/json"),
        ("text/csv", "one\ntwo\n", "*/*", "text/csv"),
    ],
)
def test_accept_picks_the_response_type(serve, content_type, body, accept, answer_type):
    response = serve.post(body.encode(), content_type, Accept=accept)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == answer_type
    if answer_type == "application/json":
        assert len(response.json()) == 2
    else:
        assert len(response.text.splitlines()) == 2


def test_unsupported_content_type_is_415_with_a_json_error(serve):
    response = serve.post(b"\x89PNG", "image/png")
    assert response.status_code == 415
    assert response.json()["type"] == "UnsupportedMediaType"


def test_unacceptable_accept_is_406_with_a_json_error(serve):
    response = serve.post(b'{"text": "fine"}', "application/json", Accept="application/x-protobuf")
    assert response.status_code == 406
    assert response.json()["type"] == "NotAcceptable"


def test_body_over_max_payload_is_413_and_the_server_keeps_serving(serve):
    oversized = json.dumps({"text": "word " * (1024 * 1024 // 5 + 1000)}).encode()  # just over 1 MiB
    assert len(oversized) > 1024 * 1024
    response = serve.post(oversized, "application/json")
    assert response.status_code == 413
    assert response.content == b""  # TorchServe's frontend answers before any handler runs
    follow_up = serve.post(b'{"text": "still serving"}', "application/json")
    assert follow_up.status_code == 200


def test_custom_attributes_header_is_ignored(serve):
    plain = serve.post(json.dumps({"data": TEXTS[:2]}), "application/json")
    attributed = serve.post(
        json.dumps({"data": TEXTS[:2]}),
        "application/json",
        **{"X-Amzn-SageMaker-Custom-Attributes": "trace_id=abc-123,top_k=5,debug=true"},
    )
    assert attributed.status_code == plain.status_code == 200
    assert attributed.json() == plain.json()
    assert "X-Amzn-SageMaker-Custom-Attributes" not in attributed.headers


def test_management_api_is_only_on_loopback_and_cannot_register_models(serve):
    assert requests.get(f"{serve.url}/models", timeout=10).status_code == 404  # not on the public port
    models = requests.get(f"{serve.management_url}/models", timeout=10).json()["models"]
    assert [model["modelName"] for model in models] == ["model"]
    register = requests.post(f"{serve.management_url}/models", params={"url": "other.mar"}, timeout=10)
    assert register.status_code == 405  # enable_model_api=false
    [written_file] = (Path(serve.log_path).parent / "tmp").glob("bs-*/config.properties")
    written = written_file.read_text()
    assert f"management_address={serve.management_url}" in written
    assert serve.management_url.startswith("http://127.0.0.1:")


def test_the_frontend_jvm_runs_with_a_heap_limit_and_exits_on_out_of_memory(serve):
    [java] = [process for process in serve._current_descendants() if process.name() == "java"]
    assert {"-Xmx1g", "-XX:+ExitOnOutOfMemoryError"} <= set(java.cmdline())


def test_sagemaker_environment_reaches_torchserves_model_settings(serve):
    description = requests.get(f"{serve.management_url}/models/model", timeout=10).json()[0]
    assert description["batchSize"] == 4
    assert description["maxBatchDelay"] == 10
    assert description["responseTimeout"] == 30
    assert (description["minWorkers"], description["maxWorkers"]) == (1, 1)


def test_sigterm_answers_every_request_in_flight_then_stops_everything_and_exits_0_within_30_s(serve):
    """Runs last in this module: it stops the shared server. Requests still queued or in a worker when the
    SIGTERM arrives must all be answered (TorchServe alone resets their connections), then serve exits 0."""
    assert any("ModelServer" in " ".join(p.cmdline()) for p in serve.descendants), "Java frontend not found"
    # The most a request may hold (64 texts of 256 tokens): with batchSize 4 the batches after the first still run
    # when the first answer arrives, even with the tiny model on a fast host.
    heavy = json.dumps({"data": ["word " * 300] * 64}).encode()
    answered: list[tuple[float, int]] = []

    def send() -> None:
        response = requests.post(f"{serve.url}/invocations", data=heavy, headers=JSON, timeout=60)
        answered.append((time.monotonic(), response.status_code))

    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        futures = [pool.submit(send) for _ in range(IN_FLIGHT)]
        wait_for(lambda: answered, 60, "the first answer")
        signalled = time.monotonic()
        code, seconds = stop_with_sigterm(serve)
        errors = [future.exception() for future in futures]

    assert errors == [None] * IN_FLIGHT, f"requests failed: {errors}"
    assert [status for _, status in answered] == [200] * IN_FLIGHT
    assert sum(when > signalled for when, _ in answered) > 0, "no request was in flight at SIGTERM: send heavier ones"
    assert code == 0, serve.log()[-4000:]
    assert seconds < STOP_DEADLINE
    _, alive = psutil.wait_procs(serve.descendants, timeout=5)
    assert alive == [], f"left running: {alive}"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{serve.url}/ping", timeout=5)


def test_a_mar_in_opt_ml_model_is_served_with_the_environments_batch_size(tmp_path):
    """The other /opt/ml/model layout: one .mar built by `make archive` (its own model-config says batch 16)."""
    model = save_tiny_bert(tmp_path / "artifacts")
    opt_ml = tmp_path / "opt-ml"
    build_archive(
        model_dir=model,
        model_name="news",
        version="2.0",
        config_file=ROOT / "model-config.yaml",
        export_path=opt_ml / "model",
    )
    serve = start_serve(opt_ml, tmp_path / "serve", SAGEMAKER_TS_BATCH_SIZE="2")
    try:
        response = serve.post(b"one text\nanother text\n", "text/csv")
        assert response.status_code == 200
        assert len(response.text.splitlines()) == 2
        description = requests.get(f"{serve.management_url}/models/model", timeout=10).json()[0]
        assert (description["batchSize"], description["modelVersion"]) == (2, "2.0")
        code, _ = stop_with_sigterm(serve)
        assert code == 0
    finally:
        serve.kill()
