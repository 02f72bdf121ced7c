"""Registering and unregistering archives through TorchServe's management API, as the README shows."""

from __future__ import annotations

import pytest
import requests

from tests.integration.conftest import archive

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


@pytest.mark.parametrize("where", ["http", "file"])
def test_registering_from_a_url_is_refused_even_a_local_file_outside_the_store(server, tiny_bert_dir, tmp_path, where):
    outside = archive(tiny_bert_dir, tmp_path, "outside")  # a valid archive, just not in the model store
    url = "http://127.0.0.1:9/outside.mar" if where == "http" else outside.as_uri()
    response = requests.post(f"{server.management_url}/models", params={"url": url}, timeout=30)
    assert response.status_code == 404, response.text  # TorchServe's ModelNotFoundException
    assert "does not match any allowed url" in response.json()["message"].lower()
    names = [m["modelName"] for m in requests.get(f"{server.management_url}/models", timeout=10).json()["models"]]
    assert "outside" not in names
