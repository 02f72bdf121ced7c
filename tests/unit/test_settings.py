"""`Settings` and `read_settings`: defaults, precedence (env > handler setting > default), validation."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from bert_classifier.errors import InvalidSetting
from bert_classifier.settings import Settings, read_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_the_documented_values():
    settings = read_settings(None, env={})

    assert settings == Settings()
    assert settings.max_length == 256
    assert settings.token_budget == 512
    assert settings.max_texts_per_request == 64
    assert settings.max_request_bytes == 6 * 1024 * 1024
    assert settings.top_k == 1
    assert settings.long_text == "truncate"
    assert settings.window_stride == 128
    assert settings.max_windows == 8
    assert settings.multi_label_threshold == 0.5
    assert settings.precision == "auto"
    assert settings.engine == "auto"
    assert settings.torch_threads == 0


def test_empty_handler_settings_give_defaults():
    assert read_settings({}, env={}) == Settings()


def test_handler_settings_override_defaults():
    settings = read_settings(
        {"max_length": 128, "window_stride": 64, "top_k": 3, "long_text": "window", "precision": "fp32"},
        env={},
    )

    assert settings.max_length == 128
    assert settings.window_stride == 64
    assert settings.top_k == 3
    assert settings.long_text == "window"
    assert settings.precision == "fp32"
    assert settings.token_budget == Settings().token_budget  # untouched fields keep their default


def test_env_variable_overrides_handler_setting():
    settings = read_settings({"top_k": 2, "precision": "fp32"}, env={"BERT_CLASSIFIER_TOP_K": "5"})

    assert settings.top_k == 5  # env wins over the handler setting
    assert settings.precision == "fp32"  # a handler setting without env override is kept


def test_env_variable_overrides_default_without_handler_setting():
    env = {
        "BERT_CLASSIFIER_MULTI_LABEL_THRESHOLD": "0.25",
        "BERT_CLASSIFIER_LONG_TEXT": "window",
        "BERT_CLASSIFIER_MAX_TEXTS_PER_REQUEST": "7",
    }

    settings = read_settings(None, env=env)

    assert settings.multi_label_threshold == 0.25
    assert settings.long_text == "window"
    assert settings.max_texts_per_request == 7


def test_env_variables_without_the_prefix_are_ignored():
    assert read_settings(None, env={"TOP_K": "9", "top_k": "9"}).top_k == 1


def test_reads_os_environ_when_no_env_is_given(monkeypatch):
    monkeypatch.setenv("BERT_CLASSIFIER_TORCH_THREADS", "3")

    assert read_settings({"torch_threads": 1}).torch_threads == 3


def test_numeric_strings_from_yaml_are_converted():
    settings = read_settings({"max_length": "128", "window_stride": "32", "multi_label_threshold": "0.7"}, env={})

    assert settings.max_length == 128
    assert settings.window_stride == 32
    assert settings.multi_label_threshold == pytest.approx(0.7)


def test_env_override_replaces_an_invalid_handler_value_before_validation():
    settings = read_settings({"multi_label_threshold": 0}, env={"BERT_CLASSIFIER_MULTI_LABEL_THRESHOLD": "0.3"})

    assert settings.multi_label_threshold == pytest.approx(0.3)


def test_converted_values_have_the_field_type():
    settings = read_settings({"token_budget": "4096", "multi_label_threshold": "0.5"}, env={})

    assert type(settings.token_budget) is int
    assert type(settings.multi_label_threshold) is float


def test_unknown_handler_setting_is_rejected_and_named():
    with pytest.raises(InvalidSetting, match="max_lenght") as raised:
        read_settings({"max_lenght": 128}, env={})

    assert "max_length" in str(raised.value)  # the message lists the known settings


@pytest.mark.parametrize(
    ("handler", "env", "name"),
    [
        ({"max_length": "long"}, {}, "max_length"),
        ({"top_k": [1, 2]}, {}, "top_k"),
        ({"multi_label_threshold": "half"}, {}, "multi_label_threshold"),
        ({}, {"BERT_CLASSIFIER_TOP_K": "two"}, "top_k"),
        ({}, {"BERT_CLASSIFIER_TOKEN_BUDGET": "1e4"}, "token_budget"),
        ({}, {"BERT_CLASSIFIER_MAX_WINDOWS": ""}, "max_windows"),
        ({"top_k": 2}, {"BERT_CLASSIFIER_TOP_K": "2.5"}, "top_k"),
    ],
)
def test_value_of_the_wrong_type_raises_naming_the_setting(handler, env, name):
    with pytest.raises(InvalidSetting, match=name):
        read_settings(handler, env=env)


@pytest.mark.parametrize("name", ["max_length", "top_k", "torch_threads", "max_windows"])
@pytest.mark.parametrize("value", [True, False])
def test_yaml_bool_for_an_int_setting_is_rejected(name, value):
    with pytest.raises(InvalidSetting, match=name):
        read_settings({name: value}, env={})


def test_yaml_bool_for_a_float_setting_is_rejected():
    with pytest.raises(InvalidSetting, match="multi_label_threshold"):
        read_settings({"multi_label_threshold": True}, env={})


def test_fractional_float_for_an_int_setting_is_rejected():
    with pytest.raises(InvalidSetting, match="top_k"):
        read_settings({"top_k": 1.5}, env={})


def test_a_short_max_length_alone_is_accepted_in_truncate_mode():
    assert read_settings({"max_length": 128}, env={}).max_length == 128


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ({"max_length": 7}, "max_length"),
        ({"max_length": 8193, "token_budget": 10000}, "max_length"),
        ({"token_budget": 100}, "token_budget"),
        ({"max_texts_per_request": 0}, "max_texts_per_request"),
        ({"max_request_bytes": 0}, "max_request_bytes"),
        ({"top_k": 0}, "top_k"),
        ({"long_text": "chunk"}, "long_text"),
        ({"window_stride": -1, "long_text": "window"}, "window_stride"),
        ({"window_stride": 254, "long_text": "window"}, "window_stride"),
        ({"max_windows": 0}, "max_windows"),
        ({"multi_label_threshold": 0.0}, "multi_label_threshold"),
        ({"multi_label_threshold": 1.0}, "multi_label_threshold"),
        ({"multi_label_threshold": float("nan")}, "multi_label_threshold"),
        ({"precision": "fp8"}, "precision"),
        ({"packing": "on"}, "packing"),
        ({"cpu_affinity": "on"}, "cpu_affinity"),
        ({"engine": "tensorrt"}, "engine"),
        ({"engine": "torch", "precision": "int8"}, "engine torch runs precision"),
        ({"engine": "onnxruntime", "precision": "bf16"}, "engine onnxruntime runs precision"),
        ({"torch_threads": -1}, "torch_threads"),
    ],
)
def test_out_of_range_value_raises_naming_the_setting(overrides, name):
    with pytest.raises(InvalidSetting, match=name):
        read_settings(overrides, env={})
    with pytest.raises(InvalidSetting, match=name):
        Settings(**overrides)


def test_out_of_range_env_value_raises_naming_the_setting():
    with pytest.raises(InvalidSetting, match="max_windows"):
        read_settings({"max_windows": 4}, env={"BERT_CLASSIFIER_MAX_WINDOWS": "0"})


def test_boundary_values_are_accepted():
    settings = Settings(
        max_length=8,
        token_budget=8,
        max_texts_per_request=1,
        window_stride=5,
        max_windows=1,
        multi_label_threshold=0.01,
    )

    assert settings.max_length == 8
    assert settings.window_stride == 5


def test_invalid_setting_is_a_value_error():
    assert issubclass(InvalidSetting, ValueError)


def test_settings_is_frozen():
    settings = Settings()

    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.top_k = 3  # type: ignore[misc]


def test_settings_are_hashable_and_compare_by_value():
    assert Settings(top_k=2) == Settings(top_k=2)
    assert hash(Settings(top_k=2)) == hash(Settings(top_k=2))
    assert Settings(top_k=2) != Settings(top_k=3)


def test_shipped_model_config_handler_section_is_valid():
    config = yaml.safe_load((Path(__file__).parents[2] / "model-config.yaml").read_text(encoding="utf-8"))

    settings = read_settings(config["handler"], env={})

    assert {name: getattr(settings, name) for name in config["handler"]} == config["handler"]


@pytest.mark.parametrize(("engine", "precision"), [("auto", "int8"), ("onnxruntime", "int8"), ("torch", "fp16")])
def test_engine_and_precision_combinations_that_can_run_are_accepted(engine, precision):
    settings = read_settings({"precision": precision}, env={"BERT_CLASSIFIER_ENGINE": engine})
    assert (settings.engine, settings.precision) == (engine, precision)


def test_the_frontends_body_limit_is_the_handlers_so_there_is_one_limit():
    """config.properties' max_request_size makes TorchServe refuse a bigger body before it reaches a worker; the
    handler applies the same number for front ends without that frontend (Lambda, script mode)."""
    properties = dict(
        line.split("=", 1) for line in (ROOT / "config.properties").read_text().splitlines() if "=" in line
    )
    handler = yaml.safe_load((ROOT / "model-config.yaml").read_text())["handler"]
    assert int(properties["max_request_size"]) == Settings().max_request_bytes
    assert "max_request_bytes" not in handler  # the default is the one home of the number


def test_a_batch_deadline_leaves_half_of_response_timeout_for_its_last_round():
    """A batch stops starting rounds at `batch_deadline_seconds`; the round already running (at most one
    admissible request's tokens) must still finish before TorchServe's `responseTimeout` kills the worker."""
    config = yaml.safe_load((ROOT / "model-config.yaml").read_text())
    settings = read_settings(config["handler"], env={})
    assert settings.batch_deadline_seconds <= config["responseTimeout"] / 2
