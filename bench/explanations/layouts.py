"""The layouts phase: prediction latency with and without explanations running, with explanations on the
prediction workers and on their own `_explain` worker (`plan.LAYOUTS`).

Each run is closed-loop load from `bench.load`: `prediction_clients` clients of held-out 40-word texts on
`/predictions`, and (in the explaining layouts) `explanation_clients` clients of 60-word texts on `/explanations`
at the same time, in a second thread; both bounded by `layout_seconds` plus `drain_seconds`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ..load import LoadResult, json_payloads, run_load
from .plan import Plan
from .records import LayoutRun, LoadSummary
from .serving import EXPLAIN_MODEL, MODEL, Server
from .texts import first_words

Log = Callable[[str], None]
WARM_ROUNDS = 6
"""At most this many pairs of explanations to make every prediction worker explain once before measuring."""


def measure_layouts(server: Server, articles: Sequence[str], plan: Plan, log: Log, pool: bool) -> list[LayoutRun]:
    """The two layouts of one pool state (`pool`: the `_explain` pool registered), repeats interleaved."""
    predictions = json_payloads([first_words(a, plan.prediction_words) for a in articles])
    explanations = json_payloads([first_words(a, plan.explanation_words) for a in reversed(articles)])
    alone, explaining = ("alone-pool-idle", "own-pool") if pool else ("alone", "shared")
    explain_url = server.url("explanations", EXPLAIN_MODEL if pool else MODEL)
    if not pool:
        warm_prediction_workers(server, explain_url, explanations, plan, log)
    runs = []
    for repeat in range(plan.layout_repeats):
        for layout, explain in ((alone, None), (explaining, explain_url)):
            run = one_run(server, layout, repeat, predictions, explanations, explain, plan)
            runs.append(run)
            log(describe(run))
    return runs


def warm_prediction_workers(server: Server, url: str, payloads, plan: Plan, log: Log) -> None:
    """Explain until every prediction worker has explained once (its first explanation loads Captum and the fp32
    model, which is not what the layouts measure), bounded by `WARM_ROUNDS`."""
    wanted = server.baselines_logged() + server.pool_config(MODEL)["workers"]  # none of them has explained yet
    for _ in range(WARM_ROUNDS):
        if server.baselines_logged() >= wanted:
            return
        run_load(url, payloads, 2, max_requests=2, max_seconds=plan.request_timeout, timeout=plan.request_timeout)
    if server.baselines_logged() >= wanted:
        return
    log(f"warning: {server.baselines_logged()} workers have explained after {WARM_ROUNDS} rounds")


def one_run(server: Server, layout: str, repeat: int, predictions, explanations, explain_url, plan: Plan) -> LayoutRun:
    bounds = {"max_requests": 10**9, "max_seconds": plan.layout_seconds, "drain_seconds": plan.drain_seconds,
              "timeout": plan.request_timeout}  # fmt: skip
    explained: list[LoadResult] = []
    helper = None
    if explain_url:
        helper = threading.Thread(
            target=lambda: explained.append(run_load(explain_url, explanations, plan.explanation_clients, **bounds))
        )
        helper.start()
    predicted = run_load(server.url("predictions", MODEL), predictions, plan.prediction_clients, **bounds)
    if helper:
        helper.join()
    return LayoutRun(layout, repeat, summary(predicted), summary(explained[0]) if explained else None)


def summary(result: LoadResult) -> LoadSummary:
    answered = bool(result.latencies)
    return LoadSummary(
        clients=result.concurrency,
        requests=result.requests,
        seconds=round(result.seconds, 3),
        per_second=result.requests_per_second,
        p50=result.latency(50) if answered else None,
        p90=result.latency(90) if answered else None,
        p99=result.latency(99) if answered else None,
        errors=dict(result.errors),
        unfinished=result.unfinished,
        foreign_cores=round(result.foreign_cores, 2),
    )


def describe(run: LayoutRun) -> str:
    p = run.predictions
    text = f"layout {run.layout} #{run.repeat}: {p.per_second:.1f} predictions/s, p50 {_ms(p.p50)} p99 {_ms(p.p99)}"
    if run.explanations:
        e = run.explanations
        text += f"; {e.requests} explanations, p50 {_ms(e.p50)}"
    return text + f"; errors {sum(p.errors.values())}, other processes {p.foreign_cores} cores"


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.0f} ms"
