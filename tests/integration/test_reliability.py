"""The fast subset of `make reliability`: every bad input once next to good neighbours, a short
overload, a worker SIGKILL, a model that cannot load, SIGTERM and a dead frontend under the SageMaker entrypoint,
and, last, the privacy canary in every log these tests wrote. Same catalog, same checks as the full run
(`reliability.verdicts`): a test fails with the problems the report would list.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reliability.catalog import build_catalog
from reliability.drain import drain, frontend_death
from reliability.faults import kill_worker, unloadable
from reliability.limits import read_limits
from reliability.neighbours import baseline_cpu, references, run_case
from reliability.overload import measure_overload, overload_mix
from reliability.phases import CATALOG_BATCH_DELAY_MS, QUICK, SERVER_ENV, canary_phase, client_timeout
from reliability.served import Archives, Served
from reliability.traffic import neighbours

pytestmark = [pytest.mark.integration, pytest.mark.model]

LIMITS = read_limits()
CASES = build_catalog(LIMITS)


@pytest.fixture(scope="module")
def log_dirs():
    """Every folder a server of this module wrote logs to; searched by the canary test, removed at the end."""
    folders: list[Path] = []
    yield folders
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def archives(trained_model_dir):
    built = Archives.build(trained_model_dir)
    yield built
    built.cleanup()


class BatchServers:
    """One server per setting the catalog needs (shipped, window mode), started on first use, with the answers
    the neighbours get alone and the CPU of an all-good batch."""

    def __init__(self, archives: Archives, log_dirs: list[Path]) -> None:
        self.archives, self.log_dirs, self.started = archives, log_dirs, {}

    def get(self, kind: str) -> tuple[Served, dict, float]:
        if kind not in self.started:
            served = Served.start(
                self.archives, LIMITS, max_batch_delay_ms=CATALOG_BATCH_DELAY_MS, env=SERVER_ENV[kind]
            )
            self.log_dirs += served.log_dirs
            self.started[kind] = served, None, None  # stopped at teardown even if what follows fails
            refs = references(served, neighbours(LIMITS.batch_size), client_timeout(LIMITS))
            self.started[kind] = served, refs, baseline_cpu(served, refs, client_timeout(LIMITS))
        return self.started[kind]

    def stop(self) -> None:
        for served, _, _ in self.started.values():
            served.stop()


@pytest.fixture(scope="module")
def batch_servers(archives, log_dirs):
    servers = BatchServers(archives, log_dirs)
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def shipped(archives, log_dirs):
    """The archive with its own settings, for load and faults."""
    served = Served.start(archives, LIMITS)
    log_dirs += served.log_dirs
    yield served
    served.stop()


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_its_own_requests_problem(batch_servers, case):
    served, refs, baseline = batch_servers.get(case.server)
    result = run_case(served, case, refs, baseline, client_timeout(LIMITS))
    assert not result.problems, "; ".join(result.problems)


def test_overload_gets_200_or_a_fast_503_and_the_server_serves_right_after(archives, shipped, log_dirs):
    result = measure_overload(archives, shipped, QUICK.overload, log_dirs, print)
    assert not result.problems, "; ".join(result.problems)


def test_a_killed_worker_fails_only_its_batch_and_is_replaced(shipped):
    result = kill_worker(shipped, overload_mix(), QUICK.faults)
    assert not result.problems, "; ".join(result.problems)


def test_a_model_that_cannot_load_turns_ping_unhealthy_within_30_s(archives, log_dirs):
    result = unloadable(archives, archives.broken, QUICK.faults, log_dirs)
    assert not result.problems, "; ".join(result.problems)


def test_sigterm_to_the_sagemaker_entrypoint_answers_every_accepted_request(trained_model_dir, log_dirs):
    result = drain(trained_model_dir, QUICK.drain, log_dirs)
    assert not result.problems, "; ".join(result.problems)


def test_the_sagemaker_entrypoint_exits_non_zero_when_its_frontend_dies(trained_model_dir, log_dirs):
    result = frontend_death(trained_model_dir, log_dirs)
    assert not result.problems, "; ".join(result.problems)


def test_no_log_holds_the_canary_sent_in_every_format_and_error_path(log_dirs):
    """Runs last in this module: it searches the logs of every server the tests above started."""
    assert log_dirs, "run the whole module: the canary is searched for in the logs of the tests above"
    result = canary_phase(log_dirs)
    assert result.files
    assert result.problems == [], "\n".join(f"{h['path']}:{h['line']}: {h['excerpt']}" for h in result.hits[:20])
