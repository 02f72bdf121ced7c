"""Device, precision and thread selection."""

from __future__ import annotations

import logging

import pytest
import torch

from bert_classifier import device as device_module
from bert_classifier.device import (
    cpu_supports_bf16,
    select_device,
    select_dtype,
    threads_per_worker,
    usable_cores,
)

pytestmark = pytest.mark.unit

CPU = torch.device("cpu")
CUDA = torch.device("cuda:0")


@pytest.fixture
def no_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def fake_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@pytest.mark.parametrize("gpu_id", [None, ""])
def test_no_gpu_id_is_cpu_even_with_cuda(fake_cuda, gpu_id):
    assert select_device(gpu_id) == CPU


@pytest.mark.parametrize("gpu_id", [None, 0, "1"])
def test_without_cuda_every_gpu_id_is_cpu(no_cuda, gpu_id):
    assert select_device(gpu_id) == CPU


@pytest.mark.parametrize(("gpu_id", "expected"), [(0, "cuda:0"), ("1", "cuda:1"), (3, "cuda:3")])
def test_gpu_id_with_cuda_is_that_gpu(fake_cuda, gpu_id, expected):
    assert select_device(gpu_id) == torch.device(expected)


def test_cpu_runs_fp32_for_fp32_even_with_native_bf16(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: True)
    assert select_dtype(CPU, "fp32") == torch.float32


def test_auto_on_a_cpu_without_native_bf16_is_fp32(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: False)
    assert select_dtype(CPU, "auto") == torch.float32


def test_fp16_on_cpu_falls_back_to_fp32_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=device_module.__name__):
        assert select_dtype(CPU, "fp16") == torch.float32

    assert "fp16" in caplog.text


def test_bf16_on_a_cpu_without_bf16_falls_back_to_fp32_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: False)

    with caplog.at_level(logging.WARNING, logger=device_module.__name__):
        assert select_dtype(CPU, "bf16") == torch.float32

    assert "bf16" in caplog.text


def test_bf16_on_a_cpu_with_bf16_is_bf16(monkeypatch):
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: True)

    assert select_dtype(CPU, "bf16") == torch.bfloat16
    assert select_dtype(CPU, "auto") == torch.bfloat16  # measured: same accuracy, faster


@pytest.mark.parametrize(
    ("precision", "bf16_supported", "expected"),
    [
        ("auto", True, torch.bfloat16),
        ("auto", False, torch.float16),
        ("bf16", True, torch.bfloat16),
        ("fp16", True, torch.float16),
        ("fp32", True, torch.float32),
        ("fp32", False, torch.float32),
    ],
)
def test_gpu_precision(monkeypatch, precision, bf16_supported, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16_supported)

    assert select_dtype(CUDA, precision) == expected


@pytest.mark.parametrize("probe", [True, False])
def test_cpu_supports_bf16_reports_onednns_probe(monkeypatch, probe):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: probe, raising=False)

    assert cpu_supports_bf16() is probe


def test_cpu_supports_bf16_is_false_when_the_probe_is_missing(monkeypatch):
    def missing():
        raise RuntimeError("no mkldnn")

    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", missing, raising=False)

    assert cpu_supports_bf16() is False


@pytest.mark.parametrize(
    ("explicit", "workers", "cores", "expected"),
    [
        (3, 4, 2, 3),  # explicit wins, even over more cores than exist
        (1, 1, 64, 1),
        (0, 2, 8, 4),  # cores shared out among the workers
        (0, 3, 8, 2),  # rounded down
        (0, 1, 2, 2),
        (0, 4, 1, 1),  # never 0
        (0, 16, 8, 1),
        (0, 0, 8, 8),  # 0 workers counts as 1
    ],
)
def test_threads_per_worker(explicit, workers, cores, expected):
    assert threads_per_worker(explicit, workers, cores) == expected


def test_threads_per_worker_uses_the_usable_cores_by_default(monkeypatch):
    monkeypatch.setattr(device_module, "usable_cores", lambda: 12)

    assert threads_per_worker(0, 4) == 3


def test_usable_cores_are_the_cores_this_process_may_run_on(monkeypatch):
    monkeypatch.setattr(device_module.os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)

    assert usable_cores() == 3  # not os.cpu_count(): a container or taskset may allow fewer


def test_usable_cores_fall_back_to_the_cpu_count_without_affinity(monkeypatch):
    monkeypatch.delattr(device_module.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(device_module.os, "cpu_count", lambda: 6)

    assert usable_cores() == 6
