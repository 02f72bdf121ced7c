"""The image's entrypoint as a SageMaker multi-model endpoint container (SAGEMAKER_MULTI_MODEL=true), on this
host against the real TorchServe, driven the way SageMaker drives it: models extracted under a stand-in for
/opt/ml/models/<id>/model, loaded with POST /models and a JSON body, listed, invoked by name, unloaded — all
on the one public port.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import requests

from tests.conftest import save_tiny_bert
from tests.integration.test_sagemaker_serve import Serve, free_port_range
from tools.sagemaker_artifact import build_artifact
from tools.sagemaker_mme_artifact import build_mme_artifact
from tools.server import free_port, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TARGET = {"X-Amzn-SageMaker-Target-Model": "news-a.tar.gz"}
BODY = b'{"data": ["Shares fell 5% after the warning.", "The striker scored twice."]}'


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """/opt/ml/models as SageMaker fills it: two MME tarballs (different weights) and one `make
    sagemaker-artifact` tarball, each extracted into <id>/model."""
    work = tmp_path_factory.mktemp("mme")
    config = work / "model-config.yaml"  # one worker per model keeps the test light
    config.write_text((ROOT / "model-config.yaml").read_text().replace("Workers: 2", "Workers: 1"))
    root = work / "opt-ml" / "models"  # serve's SM_OPT_ML is its parent: loads must name folders in here
    for name, seed in (("a", 0), ("b", 1)):
        saved = save_tiny_bert(work / f"saved-{name}", seed=seed, initializer_range=0.2)
        tarball = build_mme_artifact(saved, work / f"{name}.tar.gz", "news", config)
        with tarfile.open(tarball) as archive:
            archive.extractall(root / name / "model", filter="data")
    with tarfile.open(build_artifact(work / "saved-a", work / "plain.tar.gz")) as archive:
        archive.extractall(root / "plain" / "model", filter="data")
    return root


@pytest.fixture(scope="module")
def serve(tmp_path_factory, models):
    workdir = tmp_path_factory.mktemp("serve")
    (workdir / "tmp").mkdir()
    port, internal = free_port(), free_port_range(4)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "handlers")]),
        "TOKENIZERS_PARALLELISM": "false",
        "SAGEMAKER_MULTI_MODEL": "true",
        "SM_OPT_ML": str(models.parent),  # an MME container has /opt/ml/models, no /opt/ml/model
        "SM_BIND_HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_SAFE_PORT_RANGE": f"{internal}-{internal + 3}",
        "TMPDIR": str(workdir / "tmp"),
    }
    log = workdir / "serve.log"
    process = subprocess.Popen([sys.executable, "-m", "sagemaker_serving.serve", "serve"], cwd=workdir, env=env,
                               stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    instance = Serve(process, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{internal}", log)

    def healthy() -> bool:
        assert process.poll() is None, instance.log()[-4000:]
        try:
            return requests.get(f"{instance.url}/ping", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(healthy, 120, "the MME container's /ping")
        yield instance
    finally:
        instance.kill()


def load(serve, name: str, folder: Path) -> requests.Response:
    body = {"model_name": name, "url": str(folder)}
    return requests.post(f"{serve.url}/models", json=body, headers=TARGET, timeout=240)


def invoke(serve, name: str) -> requests.Response:
    headers = {**TARGET, "Content-Type": "application/json"}
    return requests.post(f"{serve.url}/models/{name}/invoke", data=BODY, headers=headers, timeout=60)


def test_models_load_list_invoke_and_unload_on_the_public_port(serve, models):
    assert load(serve, "model-a", models / "a" / "model").status_code == 200
    assert load(serve, "model-b", models / "b" / "model").status_code == 200
    assert load(serve, "model-a", models / "a" / "model").status_code == 409  # already loaded

    listed = requests.get(f"{serve.url}/models", timeout=10).json()["models"]
    assert {(m["modelName"], m["modelUrl"]) for m in listed} == {
        ("model-a", str(models / "a" / "model")),
        ("model-b", str(models / "b" / "model")),
    }
    page = requests.get(f"{serve.url}/models", params={"limit": 1}, timeout=10).json()
    assert len(page["models"]) == 1
    assert page["nextPageToken"] == "1"

    a, b = invoke(serve, "model-a"), invoke(serve, "model-b")
    assert a.status_code == b.status_code == 200
    assert len(a.json()) == len(b.json()) == 2
    assert [r["score"] for r in a.json()] != [r["score"] for r in b.json()]  # each name reaches its own model

    assert requests.delete(f"{serve.url}/models/model-a", timeout=60).status_code == 200
    assert invoke(serve, "model-a").status_code == 404
    assert requests.delete(f"{serve.url}/models/model-a", timeout=60).status_code == 404
    assert invoke(serve, "model-b").status_code == 200
    assert requests.get(f"{serve.url}/ping", timeout=10).json()["status"] == "Healthy"


def test_get_model_answers_torchserves_description_list_not_the_contracts_object(serve, models):
    """Documented gap: the contract shows {"modelName", "modelUrl"}; TorchServe 0.12 answers a list of
    descriptions that carry both fields."""
    assert load(serve, "model-get", models / "b" / "model").status_code == 200
    described = requests.get(f"{serve.url}/models/model-get", timeout=10).json()
    assert isinstance(described, list)
    assert (described[0]["modelName"], described[0]["modelUrl"]) == ("model-get", str(models / "b" / "model"))


def test_a_plain_sagemaker_artifact_is_not_loadable_as_an_mme_model(serve, models):
    """make sagemaker-artifact's layout has no TorchServe manifest: MME models must be make sagemaker-mme-artifact's."""
    assert load(serve, "plain", models / "plain" / "model").status_code == 500


def test_urls_and_folders_outside_the_models_folder_are_refused_by_the_gateway(serve, models, tmp_path):
    planted = tmp_path / "planted"
    shutil.copytree(models / "a" / "model", planted)  # a loadable archive another local user could leave
    for url in ("http://127.0.0.1:1/x.mar", str(planted), f"{models}/../../{tmp_path.name}/planted"):
        response = requests.post(f"{serve.url}/models", json={"model_name": "x", "url": url}, timeout=30)
        assert response.status_code == 403, url
        assert "url must be a folder under" in response.json()["message"]
    torchserve = requests.post(f"{serve.management_url}/models", json={"model_name": "x", "url": str(planted)},
                               timeout=240)  # fmt: skip
    assert torchserve.status_code == 200  # what the public port allowed before: TorchServe loads any folder
    requests.delete(f"{serve.management_url}/models/x", timeout=60)


def test_only_the_contracts_routes_reach_torchserve(serve, models):
    assert load(serve, "model-scale", models / "b" / "model").status_code == 200
    scale = requests.put(f"{serve.url}/models/model-scale", params={"min_worker": 8}, timeout=30)
    assert scale.status_code == 404  # the gateway's: TorchServe's management API would scale the workers
    assert "not a route of a SageMaker multi-model endpoint" in scale.json()["message"]
    assert requests.get(f"{serve.url}/api-description", timeout=30).status_code == 404
    described = requests.get(f"{serve.management_url}/models/model-scale", timeout=10).json()[0]
    assert described["minWorkers"] == 1
    assert requests.delete(f"{serve.url}/models/model-scale", timeout=60).status_code == 200
