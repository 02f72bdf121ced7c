"""`start_service`: the one start-up sequence (settings, device, threads, load, warm-up, log line)."""

from __future__ import annotations

import logging

import pytest
import torch

from bert_classifier.errors import InvalidSetting
from bert_classifier.startup import max_workers, start_service

pytestmark = pytest.mark.unit


@pytest.fixture
def threads(monkeypatch):
    """The torch thread count start_service asks for (restored afterwards)."""
    asked = []
    monkeypatch.setattr(torch, "set_num_threads", asked.append)
    return asked


def test_settings_come_from_the_model_config_and_the_environment_wins(tiny_bert_dir, threads):
    config = {"handler": {"top_k": 2, "max_length": 64}}
    service = start_service(tiny_bert_dir, config, {"BERT_CLASSIFIER_MAX_LENGTH": "32"})
    assert (service.settings.top_k, service.settings.max_length) == (2, 32)


@pytest.mark.parametrize(
    ("config", "workers", "explicit", "expected"),
    [({"maxWorkers": 2}, None, 0, 1), ({"minWorkers": 1}, None, 0, 2), ({"maxWorkers": 2}, 1, 0, 2), ({}, 2, 3, 3)],
)
def test_cpu_threads_are_the_cores_shared_among_the_workers(
    tiny_bert_dir, threads, monkeypatch, config, workers, explicit, expected
):
    monkeypatch.setattr("bert_classifier.device.usable_cores", lambda: 2)
    config = {**config, "handler": {"torch_threads": explicit}}
    start_service(tiny_bert_dir, config, {}, workers=workers)
    assert threads == [expected]


def test_the_start_up_line_names_what_runs(tiny_bert_dir, threads, caplog):
    with caplog.at_level(logging.INFO, logger="bert_classifier.startup"):
        start_service(tiny_bert_dir, None, {})
    line = caplog.records[-1].getMessage()
    for part in ("labels=business,sport,tech", "dtype=", "forward=packed", "settings=Settings("):
        assert part in line


def test_a_bad_setting_stops_the_start_naming_it(tiny_bert_dir, threads):
    with pytest.raises(InvalidSetting, match="max_length"):
        start_service(tiny_bert_dir, {"handler": {"max_length": 4096}}, {})


def test_max_workers_defaults_to_one():
    assert (max_workers(None), max_workers({"minWorkers": 3}), max_workers({"maxWorkers": 4})) == (1, 3, 4)
