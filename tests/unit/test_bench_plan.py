"""bench.plan: the archives' config variants and the catalogue of served variants."""

from __future__ import annotations

import pytest

from bench.plan import ONE_WORKER_BATCH_SIZE, QUICK, Plan, archive_configs, catalog, chosen_variants

pytestmark = pytest.mark.unit


def test_archive_variants_change_only_their_keys():
    shipped = {"minWorkers": 1, "maxWorkers": 1, "batchSize": 16, "maxBatchDelay": 5, "handler": {"precision": "auto"}}
    configs = archive_configs(shipped, cores=2)
    assert configs["shipped"] == shipped
    assert configs["ts-defaults"]["batchSize"] == 1
    assert configs["ts-defaults"]["handler"] == {"precision": "auto", "torch_threads": 2}
    one = configs["one-worker"]
    assert (one["minWorkers"], one["maxWorkers"], one["batchSize"]) == (1, 1, ONE_WORKER_BATCH_SIZE)
    assert one["maxBatchDelay"] == 5
    assert one["handler"] == {"precision": "auto", "torch_threads": 0}
    assert shipped["handler"] == {"precision": "auto"}  # not mutated


def test_variant_catalog_and_selection():
    plan = Plan()
    chosen = chosen_variants(plan, bf16=False, cores=2)
    assert "bf16" not in [v.name for v in chosen]  # no native bf16: no bf16 variants
    assert [v.name for v in chosen_variants(plan, True, 2, ["bf16", "fp32"])] == ["bf16", "fp32"]
    defaults = catalog(2, plan)["ts-defaults"]
    assert defaults.workloads == ("short", "mixed")
    assert defaults.torchserve_jvm
    assert catalog(2, plan)["ts-jvm-fp32"].torchserve_jvm
    assert not catalog(2, plan)["fp32"].torchserve_jvm
    assert max(defaults.concurrencies) == plan.headline_concurrency
    with pytest.raises(SystemExit, match="unknown variant"):
        chosen_variants(plan, True, 2, ["nope"])


@pytest.mark.parametrize("plan", [Plan(), QUICK], ids=["full", "quick"])
def test_every_planned_variant_and_grid_workload_exists(plan):
    known = catalog(2, plan)
    assert set(plan.variants) <= set(known)
    assert {name for name, _, _ in plan.ceiling_grid} == {name for name, _ in plan.ceiling_samples}
    assert plan.headline_concurrency in plan.concurrencies


def test_the_bench_waits_for_a_quiet_machine_and_refuses_a_busy_one(monkeypatch):
    import psutil

    from bench.__main__ import wait_until_quiet

    readings = iter([80.0, 5.0])
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval: next(readings))
    assert wait_until_quiet(90.0, seconds=60) == 5.0
    assert wait_until_quiet(3.0, seconds=0) == 3.0
    monkeypatch.setattr(psutil, "cpu_percent", lambda interval: 90.0)
    with pytest.raises(SystemExit, match="busy"):
        wait_until_quiet(90.0, seconds=0)
