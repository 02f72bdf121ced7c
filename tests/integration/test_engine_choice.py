"""`make archive`'s archive of the trained default model (ONNX fp32 + int8 and the measured accuracy gate), started
several times by the real TorchServe: `engine: auto` serves the same variant every time, and a second pool of the
same archive (as `make serve` registers for explanations) serves what the first chose without probing again."""

from __future__ import annotations

import re

import pytest

from tests.integration.conftest import served_variant, start_server
from tools.management_client import ManagementClient, wait_ready

pytestmark = pytest.mark.model

STARTS = 3
LOADED = r"W-\d+-{model}_[\d.]+-stdout MODEL_LOG - loaded model .* chosen by (.*?) cpu="


@pytest.fixture(scope="module")
def starts(trained_onnx_store) -> list[tuple[dict[str, str], list[str]]]:
    """Per start (each its own server, so its own temp folder and no recorded choice): the variant the
    prediction pool served and how each of its workers says it was chosen."""
    found = []
    for _ in range(STARTS):
        server = start_server(trained_onnx_store, "bert=bert.mar")
        try:
            found.append((served_variant(server, "bert"), re.findall(LOADED.format(model="bert"), server.model_log())))
        finally:
            server.stop()
            server.cleanup()
    return found


def test_every_start_of_the_same_archive_serves_the_same_variant(starts):
    variants = [variant for variant, _ in starts]
    assert all(variant == variants[0] for variant in variants), variants
    for _, chosen_by in starts:  # one worker probed, the other read its record
        assert sorted(how.split(" (")[0] for how in chosen_by) == ["probe", "this host's recorded probe"]


def test_the_explanations_pool_reuses_the_prediction_pools_choice(trained_onnx_store):
    server = start_server(trained_onnx_store, "bert=bert.mar")
    try:
        client = ManagementClient(server.management_url)
        client.register("bert.mar", model_name="bert_explain", workers=1, batch_size=1)
        wait_ready(client, "bert_explain", inference_url=server.inference_url, timeout=240)
        explain = re.findall(LOADED.format(model="bert_explain"), server.model_log())
        assert [how.split(" (")[0] for how in explain] == ["this host's recorded probe"]
        assert served_variant(server, "bert_explain") == served_variant(server, "bert")
    finally:
        server.stop()
        server.cleanup()
