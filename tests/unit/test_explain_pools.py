"""The `explanations` setting: which worker pools explain (`off`, `own_pool`, `shared`), and the 403 of the others."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bert_classifier.codecs import ModelIdentity, ParsedRequest
from bert_classifier.errors import Forbidden, InvalidSetting
from bert_classifier.messages import Request
from bert_classifier.service import InferenceService
from bert_classifier.settings import Settings, read_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEXT = "Markets rallied after strong earnings."


@pytest.fixture(scope="module")
def loaded(tiny_bert_dir) -> InferenceService:
    return InferenceService.load(tiny_bert_dir, Settings(precision="fp32", explain_steps=4))


def pool(loaded: InferenceService, mode: str, name: str) -> InferenceService:
    """The loaded classifier served as the pool `name` with `explanations: mode`."""
    return InferenceService(loaded.classifier, replace(loaded.settings, explanations=mode), ModelIdentity(name, "1"))


def ask(service: InferenceService) -> list[tuple[int, dict]]:
    """A batch of a prediction and an explanation; (status, body) of each."""
    body = json.dumps({"text": TEXT}).encode()
    batch = [Request(body, "application/json"), Request(body, "application/json", explain=True)]
    return [(response.status, json.loads(response.body)) for response in service.handle_batch(batch).responses]


def test_explanations_are_off_unless_a_deployer_turns_them_on():
    """The image, the KServe bundle and Lambda read the shipped model-config.yaml: it must not turn them on."""
    shipped = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    assert Settings().explanations == "off"
    assert read_settings(shipped.get("handler"), env={}).explanations == "off"


def test_off_answers_explanations_403_naming_the_setting_and_predictions_as_ever(loaded):
    (predicted, prediction), (status, error) = ask(pool(loaded, "off", "news"))
    assert predicted == 200
    assert "label" in prediction
    assert status == 403
    assert error["type"] == "Forbidden"
    assert "explanations=off" in error["message"]


def test_own_pool_explains_only_on_the_pool_named_explain_and_points_the_others_there(loaded):
    (predicted, _), (status, error) = ask(pool(loaded, "own_pool", "news"))
    assert (predicted, status) == (200, 403)
    assert "explanations=own_pool" in error["message"]
    assert "'news_explain'" in error["message"]

    (predicted, _), (explained, result) = ask(pool(loaded, "own_pool", "news_explain"))
    assert (predicted, explained) == (200, 200)
    assert result["words"][0]["word"] == "Markets"


def test_shared_explains_on_every_pool(loaded):
    (predicted, _), (explained, result) = ask(pool(loaded, "shared", "news"))
    assert (predicted, explained) == (200, 200)
    assert "words" in result


def test_the_explain_entry_of_script_mode_refuses_too(loaded):
    parsed = ParsedRequest((TEXT,), True, "application/json")
    with pytest.raises(Forbidden, match="explanations=off") as refused:
        pool(loaded, "off", "model").explain(parsed)
    assert refused.value.status == 403
    assert pool(loaded, "shared", "model").explain(parsed)[0]["words"]


@pytest.mark.parametrize("mode", ["on", "true", ""])
def test_an_unknown_mode_is_an_invalid_setting(mode):
    with pytest.raises(InvalidSetting, match="explanations must be one of"):
        read_settings({"explanations": mode}, env={})
