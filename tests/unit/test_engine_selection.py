"""`select_engine`: one candidate runs as asked; several are probed, the fastest kept, and the other workers of the
model reuse that choice instead of probing again."""

from __future__ import annotations

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
    """Each test gets its own shared-choice record (the real one is per model folder and parent process)."""
    monkeypatch.setattr(shared, "record_path", lambda model_dir: tmp_path / "choice.json")


class Host:
    """A fake clock on which each variant costs `COST` per run; counts what ran and how many models loaded."""

    def __init__(self, monkeypatch, costs=COST) -> None:
        self.now, self.runs, self.loads, self.costs = 0.0, [], 0, costs
        monkeypatch.setattr(probe_module.run_probe, "__defaults__", (probe_module.ROUNDS, lambda: self.now))

    def run(self, engine) -> None:
        self.runs.append(engine.variant.name)
        self.now += self.costs[engine.variant.name]

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
    assert host.runs.count("torch-fp32") == 1 + probe_module.ROUNDS  # warm-up + timed rounds
    described = selection.describe()
    assert "probe" in described
    assert all(f"{name} {COST[name] * 1000:.1f} ms" in described for name in ("torch-fp32", "onnxruntime-int8"))


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
    assert "another worker's probe" in selection.describe()
    assert (second.runs, second.loads) == ([], 0)


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
