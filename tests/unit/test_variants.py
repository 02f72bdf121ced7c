"""`engines.variants`: which variants a model folder offers for the settings, and what the gate allows."""

from __future__ import annotations

import json
import logging

import pytest

from bert_classifier.engines.variants import MANIFEST, ONNX_FILES, Variant, candidates, read_verdicts
from bert_classifier.errors import InvalidArtifacts

pytestmark = pytest.mark.unit


def folder(tmp_path, onnx=("fp32", "int8"), eligible=None, mode="measured"):
    """A model folder with the named ONNX files and, when `eligible` is given, an engines.json."""
    tmp_path.mkdir(exist_ok=True)
    for precision in onnx:
        (tmp_path / ONNX_FILES[precision]).write_bytes(b"")
    if eligible is not None:
        rows = [{"variant": name, "eligible": ok} for name, ok in eligible.items()]
        (tmp_path / MANIFEST).write_text(json.dumps({"gate": {"mode": mode}, "variants": rows}))
    return tmp_path


def names(model_dir, engine="auto", precision="auto", native_bf16=False):
    return [v.name for v in candidates(model_dir, engine, precision, native_bf16, read_verdicts(model_dir))]


ALL = {"torch-fp32": True, "torch-bf16": True, "onnxruntime-fp32": True, "onnxruntime-int8": True}


def test_auto_takes_torch_fp32_and_every_eligible_variant(tmp_path):
    model_dir = folder(tmp_path, eligible=ALL)
    assert names(model_dir) == ["torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"]
    assert names(model_dir, native_bf16=True) == ["torch-fp32", "torch-bf16", "onnxruntime-fp32", "onnxruntime-int8"]


def test_a_variant_the_gate_refused_is_no_candidate_for_auto(tmp_path):
    model_dir = folder(tmp_path, eligible=ALL | {"onnxruntime-int8": False, "torch-bf16": False})
    assert names(model_dir, native_bf16=True) == ["torch-fp32", "onnxruntime-fp32"]


def test_without_a_gate_verdict_auto_runs_torch_fp32_even_where_bf16_is_native(tmp_path):
    assert names(folder(tmp_path)) == ["torch-fp32"]
    assert names(folder(tmp_path), native_bf16=True) == ["torch-fp32"]
    assert names(folder(tmp_path), engine="torch", native_bf16=True) == ["torch-fp32"]


def test_bf16_the_gate_never_measured_is_no_candidate_unless_the_deployer_accepted_every_variant(tmp_path):
    measured_elsewhere = {"torch-fp32": True, "onnxruntime-fp32": True, "onnxruntime-int8": True}  # no bf16 there
    assert "torch-bf16" not in names(folder(tmp_path / "m", eligible=measured_elsewhere), native_bf16=True)
    accepted = folder(tmp_path / "a", eligible=measured_elsewhere, mode="accepted")
    assert "torch-bf16" in names(accepted, native_bf16=True)


def test_a_fixed_precision_narrows_the_probe_to_that_precision(tmp_path):
    model_dir = folder(tmp_path, eligible=ALL)
    assert names(model_dir, precision="fp32") == ["torch-fp32", "onnxruntime-fp32"]
    assert names(model_dir, engine="onnxruntime") == ["onnxruntime-fp32", "onnxruntime-int8"]
    assert names(model_dir, engine="torch", native_bf16=True) == ["torch-fp32", "torch-bf16"]


def test_an_explicit_variant_runs_even_if_the_gate_refused_it_with_a_warning(tmp_path, caplog):
    model_dir = folder(tmp_path, eligible=ALL | {"onnxruntime-int8": False})
    with caplog.at_level(logging.WARNING):
        assert names(model_dir, engine="onnxruntime", precision="int8") == ["onnxruntime-int8"]
        assert names(model_dir, precision="int8") == ["onnxruntime-int8"]
    assert "failed the accuracy gate" in caplog.text


def test_torch_half_precision_without_support_is_asked_of_torch_which_falls_back(tmp_path):
    assert names(folder(tmp_path), engine="torch", precision="bf16") == ["torch-bf16"]
    assert names(folder(tmp_path), precision="fp16") == ["torch-fp16"]


@pytest.mark.parametrize(("engine", "precision"), [("onnxruntime", "auto"), ("onnxruntime", "fp32"), ("auto", "int8")])
def test_onnx_runtime_without_its_file_is_an_error_naming_the_file(tmp_path, engine, precision):
    with pytest.raises(InvalidArtifacts, match=r"model(-int8)?\.onnx.*make archive"):
        names(folder(tmp_path, onnx=()), engine=engine, precision=precision)


def test_onnx_runtime_with_nothing_eligible_runs_fp32_with_a_warning(tmp_path, caplog):
    model_dir = folder(tmp_path, eligible={"onnxruntime-fp32": False, "onnxruntime-int8": False})
    with caplog.at_level(logging.WARNING):
        assert names(model_dir, engine="onnxruntime") == ["onnxruntime-fp32"]
    assert "no onnxruntime variant passed" in caplog.text


def test_a_broken_manifest_is_an_artifacts_error(tmp_path):
    (tmp_path / MANIFEST).write_text('{"variants": [{"name": 1}]}')
    with pytest.raises(InvalidArtifacts, match=MANIFEST):
        read_verdicts(tmp_path)


def test_variant_names_round_trip():
    assert Variant.parse("onnxruntime-int8") == Variant("onnxruntime", "int8")
    assert Variant.parse(Variant("torch", "bf16").name) == Variant("torch", "bf16")
