"""Registering and unregistering archives through TorchServe's management API, as docs/operating.md shows."""

from __future__ import annotations

import zipfile

import pytest
import requests
import yaml

from tests.integration.conftest import BATCHING, ROOT, archive

pytestmark = pytest.mark.integration


def test_register_predict_and_unregister_an_archive_from_the_model_store(server, model_store, tiny_bert_dir):
    archive(tiny_bert_dir, model_store, "tiny_registered", version="2.0")
    management = server.management_url
    registered = requests.post(
        f"{management}/models",
        params={"url": "tiny_registered.mar", "initial_workers": 1, "synchronous": "true"},
        timeout=240,
    )
    assert registered.status_code == 200, registered.text
    names = [m["modelName"] for m in requests.get(f"{management}/models", timeout=10).json()["models"]]
    assert "tiny_registered" in names
    answer = requests.post(f"{server.inference_url}/predictions/tiny_registered/2.0", json={"text": "hi"}, timeout=60)
    assert answer.status_code == 200
    assert answer.json()["label"] in {"business", "sport", "tech"}

    removed = requests.delete(f"{management}/models/tiny_registered/2.0", timeout=60)
    assert removed.status_code == 200, removed.text
    names = [m["modelName"] for m in requests.get(f"{management}/models", timeout=10).json()["models"]]
    assert "tiny_registered" not in names
    gone = requests.post(f"{server.inference_url}/predictions/tiny_registered", json={"text": "hi"}, timeout=60)
    assert gone.status_code == 404


@pytest.mark.parametrize("where", ["http", "file", "file-folder", "path"])
def test_registering_from_a_url_is_refused_even_a_local_file_outside_the_store(server, tiny_bert_dir, tmp_path, where):
    outside = archive(tiny_bert_dir, tmp_path, "outside")  # a valid archive, just not in the model store
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(outside).extractall(unpacked)
    url = {
        "http": "http://127.0.0.1:9/outside.mar",
        "file": outside.as_uri(),
        "file-folder": unpacked.as_uri(),
        "path": str(outside),  # a plain path to a file: looked up in the model store only
    }[where]
    response = requests.post(f"{server.management_url}/models", params={"url": url}, timeout=30)
    assert response.status_code == 404, response.text  # TorchServe's ModelNotFoundException
    refusal = "model not found at" if where == "path" else "does not match any allowed url"
    assert refusal in response.json()["message"].lower()
    names = [m["modelName"] for m in requests.get(f"{server.management_url}/models", timeout=10).json()["models"]]
    assert "outside" not in names


@pytest.mark.parametrize("server", ["one-worker-batching"], indirect=True)
def test_a_plain_path_to_an_unpacked_archive_outside_the_store_is_loaded_despite_allowed_urls(
    server, tiny_bert_dir, tmp_path
):
    """TorchServe 0.12 applies `allowed_urls` only to strings that parse as URLs; a plain path to a folder is
    linked into its temporary folder and loaded, handler code included (`ModelArchive.downloadModel`). docs/security.md
    says so; if this starts failing, TorchServe closed the hole and that page must change."""
    unpacked = tmp_path / "unpacked"
    config = tmp_path / "one-worker.yaml"
    config.write_text(yaml.safe_dump(yaml.safe_load((ROOT / "model-config.yaml").read_text()) | BATCHING))
    zipfile.ZipFile(archive(tiny_bert_dir, tmp_path, "outside_folder", config=config)).extractall(unpacked)
    management = server.management_url
    params = {"url": str(unpacked), "model_name": "outside_folder", "synchronous": "true"}
    registered = requests.post(f"{management}/models", params=params, timeout=240)
    try:
        assert registered.status_code == 200, registered.text
        [description] = requests.get(f"{management}/models/outside_folder", timeout=10).json()
        assert description["modelUrl"] == str(unpacked)
        answer = requests.post(f"{server.inference_url}/predictions/outside_folder", json={"text": "hi"}, timeout=60)
        assert answer.status_code == 200
    finally:
        requests.delete(f"{management}/models/outside_folder", timeout=60)
