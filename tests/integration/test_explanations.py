"""Explanations through the real TorchServe: /explanations/<model> and the v1/v2 explain routes, decided per
request; the `explanations` setting (off as shipped, own_pool as `make serve` runs it) answering 403 where a pool
does not explain; and a batch forced to mix predictions and explanations where each request gets its own answer."""

from __future__ import annotations

import re
import threading

import pytest
import requests
import yaml

from tests.integration.conftest import ROOT, archive
from tools.management_client import ManagementClient, wait_ready
from tools.server import wait_for

pytestmark = pytest.mark.integration

TEXT = "Markets rallied after strong earnings from chip makers."
OTHER = "The striker scored twice in the second half."
MIXED = "tiny_mixed_explain"  # an `_explain` pool of the own_pool archive: it predicts and explains
BATCH_DELAY_MS = 4000
POOLS = "tiny_pools"
"""The tiny model archived with `explanations: own_pool`, registered as `make serve` registers the default model:
its prediction pool under this name and its explanation pool under this name + `_explain`."""
EXPLAIN = f"{POOLS}_explain"


def post(server, path: str, document, headers=None) -> requests.Response:
    return requests.post(f"{server.inference_url}/{path}", json=document, headers=headers or {}, timeout=120)


@pytest.fixture(scope="module")
def pools(server, tiny_bert_dir):
    """`tiny_pools.mar` in the server's store, registered as the prediction pool and the explanation pool."""
    config = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    config["handler"]["explanations"] = "own_pool"
    config_file = server.model_store.parent / "tiny-pools-model-config.yaml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    archive(tiny_bert_dir, server.model_store, POOLS, config=config_file)
    client = ManagementClient(server.management_url)
    for name, batch_size in ((POOLS, 8), (EXPLAIN, 1)):
        client.register(f"{POOLS}.mar", model_name=name, workers=1, batch_size=batch_size)
        wait_ready(client, name, inference_url=server.inference_url, timeout=240)
    yield
    for name in (POOLS, EXPLAIN):
        client.unregister(name)


@pytest.mark.parametrize("path", ["explanations/tiny", "v1/models/tiny:explain", "v2/models/tiny/explain"])
def test_explanations_are_off_as_shipped_a_403_naming_the_setting(server, path):
    response = post(server, path, {"text": TEXT})

    assert response.status_code == 403
    assert response.json()["type"] == "Forbidden"
    assert "explanations=off" in response.json()["message"]
    assert post(server, "predictions/tiny", {"text": TEXT}).status_code == 200


def test_with_own_pool_the_prediction_pool_refuses_explanations_and_names_the_explain_pool(server, pools):
    refused = post(server, f"explanations/{POOLS}", {"text": TEXT})
    predicted = post(server, f"predictions/{POOLS}", {"text": TEXT})
    explained = post(server, f"explanations/{EXPLAIN}", {"text": TEXT})

    assert refused.status_code == 403
    assert "explanations=own_pool" in refused.json()["message"]
    assert f"'{EXPLAIN}'" in refused.json()["message"]
    assert predicted.status_code == 200
    assert explained.status_code == 200
    assert explained.json()["label"] == predicted.json()["label"]


def test_explanations_route_answers_with_words_and_their_offsets(server, pools):
    response = post(server, f"explanations/{EXPLAIN}", {"text": TEXT})
    predicted = post(server, "predictions/tiny", {"text": TEXT}).json()

    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    result = response.json()
    assert result["label"] == result["predicted_label"] == predicted["label"]
    assert [TEXT[word["start"] : word["end"]] for word in result["words"]] == [word["word"] for word in result["words"]]
    assert {"convergence_delta", "log_score", "baseline_log_score", "steps"} <= set(result)


@pytest.mark.parametrize("header", ["explain", "Explain", "EXPLAIN"])
def test_a_clients_explain_header_on_predictions_is_still_a_prediction(server, header):
    response = post(server, "predictions/tiny", {"text": TEXT}, {header: "True"})

    assert response.status_code == 200
    assert "words" not in response.json()


def test_explanation_caps_are_client_errors_that_name_them(server, pools):
    too_many = post(server, f"explanations/{EXPLAIN}", {"data": [TEXT] * 3})
    too_many_steps = post(server, f"explanations/{EXPLAIN}", {"text": TEXT, "parameters": {"steps": 10_000}})

    assert too_many.status_code == 413
    assert "max_texts_per_explanation" in too_many.json()["message"]
    assert too_many_steps.status_code == 400
    assert "max_explain_steps" in too_many_steps.json()["message"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"v1/models/{EXPLAIN}:explain", {"text": TEXT}),
        (f"v2/models/{EXPLAIN}/explain", {"text": TEXT}),
        (f"v1/models/{EXPLAIN}:explain", {"instances": [TEXT]}),
        (
            f"v2/models/{EXPLAIN}/explain",
            {"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": [TEXT]}]},
        ),
    ],
)
def test_kserve_explain_routes_reach_the_handler_as_explanations(server, pools, path, body):
    """TorchServe's frontend marks both routes as explanations; bodies in our contract, KServe v1's and the Open
    Inference Protocol's are read as on their prediction routes, and answered in our own contract."""
    response = post(server, path, body)

    assert response.status_code == 200, response.text
    result = response.json()
    result = result if isinstance(result, dict) else result[0]
    assert result["words"][0]["word"] == "Markets"


def test_an_explain_route_error_is_in_the_protocol_of_the_body(server, pools):
    response = post(server, f"v1/models/{EXPLAIN}:explain", {"instances": [TEXT], "parameters": {"steps": 10_000}})

    assert response.status_code == 400
    assert "max_explain_steps" in response.json()["error"]  # KServe's {"error": ...}, not our {"code", ...}


@pytest.fixture(scope="module")
def mixed(server, pools):
    """The own_pool archive registered again as an explanation pool with a long batch delay, so requests sent
    together share a batch."""
    client = ManagementClient(server.management_url)
    client.register(f"{POOLS}.mar", model_name=MIXED, workers=1, batch_size=8, max_batch_delay=BATCH_DELAY_MS)
    wait_ready(client, MIXED, inference_url=server.inference_url, timeout=240)
    yield MIXED
    client.unregister(MIXED)


def handler_metric(server, name: str) -> float | None:
    text = requests.get(f"{server.metrics_url}/metrics", timeout=10).text
    found = re.search(rf'^{name}\{{[^}}]*ModelName="{MIXED}"[^}}]*\}} ([0-9.]+)', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def test_a_batch_mixing_predictions_and_explanations_gives_each_request_its_own_answer(server, mixed):
    expected_predictions = [post(server, f"predictions/{mixed}", {"text": text}).json() for text in (TEXT, OTHER)]
    expected_explanation = post(server, f"explanations/{mixed}", {"text": OTHER}).json()
    batches = wait_for(lambda: handler_metric(server, "bert_batches_total"), 60, "the batch counter")
    calls = [("predictions", TEXT), ("explanations", OTHER), ("predictions", OTHER), ("explanations", TEXT)]
    answers: dict[int, requests.Response] = {}

    def send(index: int, route: str, text: str) -> None:
        answers[index] = post(server, f"{route}/{mixed}", {"text": text})

    threads = [threading.Thread(target=send, args=(i, *call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert [answers[i].status_code for i in range(4)] == [200, 200, 200, 200]
    assert answers[0].json() == expected_predictions[0]
    assert answers[2].json() == expected_predictions[1]
    assert answers[1].json() == expected_explanation
    assert answers[3].json()["words"][0]["word"] == "Markets"
    # One batch of all four: the counter moved by one and the last batch held four requests.
    wait_for(lambda: handler_metric(server, "bert_batches_total") == batches + 1 or None, 60, "the new batch")
    assert handler_metric(server, "bert_batch_requests") == 4
    assert handler_metric(server, "bert_explained_texts_total") >= 2
