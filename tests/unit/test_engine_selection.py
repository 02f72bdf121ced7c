"""`select_engine`: one candidate runs as asked; several are probed and the probe's choice kept, and every later
worker of the same model on this host reuses that choice instead of probing again."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForSequenceClassification

from bert_classifier.engines import probe as probe_module
from bert_classifier.engines import select_engine, shared
from bert_classifier.engines.onnxruntime_engine import OnnxRuntimeEngine
from bert_classifier.engines.torch_engine import TorchEngine
from bert_classifier.settings import Settings

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
COST = {"torch-fp32": 30, "torch-bf16": 20, "onnxruntime-fp32": 15, "onnxruntime-int8": 8}


@pytest.fixture(autouse=True)
def private_record(tmp_path, monkeypatch):
    """Each test gets its own temp folder, so its own recorded choices (the real ones last as long as /tmp)."""
    monkeypatch.setattr(shared.tempfile, "gettempdir", lambda: str(tmp_path))


class Host:
    """A fake clock on which each variant costs `COST` milliseconds per run; counts what ran and how many models
    loaded."""

    def __init__(self, monkeypatch, costs=COST) -> None:
        self.now, self.runs, self.loads, self.costs = 0.0, [], 0, costs
        defaults = (lambda: self.now, probe_module.BUDGET_SECONDS)
        monkeypatch.setattr(probe_module.run_probe, "__defaults__", defaults)

    def run(self, engine, texts) -> None:
        self.runs.append(engine.variant.name)
        self.now += self.costs[engine.variant.name] / 1000

    def loader(self, model_dir):
        def load():
            self.loads += 1
            return AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()

        return load


def select(host, model_dir, settings, device=CPU):
    return select_engine(model_dir, settings, device, host.loader(model_dir), host.run)


def test_auto_keeps_the_fastest_and_logs_every_candidates_figure(monkeypatch, tiny_onnx_model_dir):
    monkeypatch.setattr("bert_classifier.engines.cpu_supports_bf16", lambda: False)
    host = Host(monkeypatch)
    selection = select(host, tiny_onnx_model_dir, Settings())
    assert isinstance(selection.engine, OnnxRuntimeEngine)
    assert selection.engine.variant.name == "onnxruntime-int8"
    assert [r.candidate.name for r in selection.probed] == ["torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"]
    shapes = len(probe_module.traffic_shapes(1))
    assert host.runs.count("torch-fp32") == shapes * (1 + probe_module.MIN_ROUNDS)  # warm-up + timed rounds
    described = selection.describe()
    assert described.startswith(
        "probe (3 rounds; median score against torch-fp32 and best rounds on 1 short / 1 long: "
    )
    assert "torch-fp32 1.00 = 30.0/30.0 ms" in described
    assert "onnxruntime-int8 0.27 = 8.0/8.0 ms" in described
    assert "onnxruntime-int8 beat every other by more than the noise, noise up to 0%" in described


def test_torch_fp32_wins_where_it_is_fastest(monkeypatch, tiny_onnx_model_dir):
    monkeypatch.setattr("bert_classifier.engines.cpu_supports_bf16", lambda: False)
    host = Host(monkeypatch, COST | {"torch-fp32": 1})
    assert select(host, tiny_onnx_model_dir, Settings()).engine.variant.name == "torch-fp32"


def test_the_next_worker_reuses_the_choice_without_probing_or_loading_torch(monkeypatch, tiny_onnx_model_dir):
    monkeypatch.setattr("bert_classifier.engines.cpu_supports_bf16", lambda: False)
    first = Host(monkeypatch)
    chosen = select(first, tiny_onnx_model_dir, Settings()).engine.variant
    second = Host(monkeypatch, dict.fromkeys(COST, 1))  # would choose differently if it probed
    selection = select(second, tiny_onnx_model_dir, Settings())
    assert selection.engine.variant == chosen
    assert selection.shared
    assert selection.describe().startswith("this host's recorded probe (3 rounds")
    assert (second.runs, second.loads) == ([], 0)


def test_another_copy_of_the_same_archive_reuses_the_choice(monkeypatch, tiny_onnx_model_dir, tmp_path):
    """TorchServe unpacks each registration of an archive (the explanations pool) into its own folder."""
    monkeypatch.setattr("bert_classifier.engines.cpu_supports_bf16", lambda: False)
    chosen = select(Host(monkeypatch), tiny_onnx_model_dir, Settings()).engine.variant
    copy = tmp_path / "unpacked-again"
    copy.mkdir()
    for source in tiny_onnx_model_dir.iterdir():
        (copy / source.name).symlink_to(source.resolve())
    again = select(Host(monkeypatch, dict.fromkeys(COST, 1)), copy, Settings())
    assert (again.shared, again.engine.variant) == (True, chosen)


def test_a_recorded_choice_outside_the_candidates_is_ignored_and_probed_again(monkeypatch, tiny_onnx_model_dir):
    monkeypatch.setattr("bert_classifier.engines.cpu_supports_bf16", lambda: False)
    select(Host(monkeypatch), tiny_onnx_model_dir, Settings())
    (record,) = shared.private_folder().glob("engine-*.json")
    planted = json.loads(record.read_text())
    record.write_text(json.dumps(planted | {"chosen": "torch-bf16"}))  # not a candidate here (no native bf16)
    host = Host(monkeypatch)
    selection = select(host, tiny_onnx_model_dir, Settings())
    assert not selection.shared
    assert selection.engine.variant.name == "onnxruntime-int8"
    assert host.runs


def test_a_temp_folder_another_user_could_write_is_not_trusted(monkeypatch, tmp_path):
    folder = shared.private_folder()
    assert folder is not None
    assert folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)
    assert shared.private_folder() is None


def test_a_different_candidate_list_probes_again(monkeypatch, tiny_onnx_model_dir):
    monkeypatch.setattr("bert_classifier.engines.cpu_supports_bf16", lambda: False)
    select(Host(monkeypatch), tiny_onnx_model_dir, Settings())
    host = Host(monkeypatch)
    selection = select(host, tiny_onnx_model_dir, Settings(precision="fp32"))
    assert selection.engine.variant.name == "onnxruntime-fp32"
    assert not selection.shared
    assert host.runs


def test_one_candidate_is_built_without_a_probe(monkeypatch, tiny_onnx_model_dir, tiny_bert_dir):
    host = Host(monkeypatch)
    selection = select(host, tiny_onnx_model_dir, Settings(engine="onnxruntime", precision="int8"))
    assert selection.engine.variant.name == "onnxruntime-int8"
    assert (host.runs, host.loads, selection.describe()) == ([], 0, "settings (one candidate)")
    assert select(host, tiny_bert_dir, Settings(precision="fp32")).engine.variant.name == "torch-fp32"


def test_on_a_gpu_auto_keeps_torch_without_a_probe(monkeypatch, tiny_onnx_model_dir):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    host = Host(monkeypatch)
    selection = select(host, tiny_onnx_model_dir, Settings(), device=torch.device("cuda:0"))
    assert isinstance(selection.engine, TorchEngine)
    assert selection.engine.variant.name == "torch-bf16"  # the model's weights cast as on a GPU
    assert host.runs == []
