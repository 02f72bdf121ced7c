"""The cost phase: explanations one at a time through the otherwise idle `_explain` pool, each followed by the
same body's prediction on the prediction workers, for each kind of text (`plan.COST_KINDS`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import requests

from .plan import COST_KINDS, Plan
from .records import CostPoint, CostSample
from .serving import EXPLAIN_MODEL, MODEL, Server
from .texts import cost_texts

Log = Callable[[str], None]


def first_explanation(server: Server, text: str, plan: Plan) -> float:
    """Seconds of the pool worker's first explanation (it loads what explanations need, once)."""
    status, seconds, _ = post(server.url("explanations", EXPLAIN_MODEL), [text], plan.request_timeout)
    if status != 200:
        raise RuntimeError(f"the first explanation was answered {status}")
    return seconds


def measure_costs(server: Server, articles: Sequence[str], count_tokens, plan: Plan, log: Log) -> list[CostPoint]:
    """One `CostPoint` per kind; a kind stops after `plan.cost_requests` requests or `plan.cost_seconds`."""
    points = []
    for kind, _, _ in COST_KINDS:
        point, started = CostPoint(kind), time.perf_counter()
        for texts in cost_texts(articles, kind, plan.cost_requests):
            if time.perf_counter() - started > plan.cost_seconds:
                break
            point.samples.append(measure_one(server, texts, count_tokens, plan))
            sample = point.samples[-1]
            log(f"cost {kind}: {sample.tokens} tokens, explained in {sample.seconds:.2f} s (status {sample.status}), "
                f"predicted in {sample.prediction_seconds:.3f} s")  # fmt: skip
        points.append(point)
    return points


def measure_one(server: Server, texts: list[str], count_tokens, plan: Plan) -> CostSample:
    status, seconds, answer = post(server.url("explanations", EXPLAIN_MODEL), texts, plan.request_timeout)
    first = answer[0] if isinstance(answer, list) and answer else answer
    steps = first.get("steps") if status == 200 and isinstance(first, dict) else None
    predicted, predict_seconds, _ = post(server.url("predictions", MODEL), texts, plan.request_timeout)
    return CostSample(len(texts), [count_tokens(text) for text in texts], [len(text.split()) for text in texts],
                      status, seconds, steps, predicted, predict_seconds)  # fmt: skip


def post(url: str, texts: list[str], timeout: float) -> tuple[int, float, object]:
    """(status, seconds, JSON answer or None) of one `{"data": texts}` request; status 0 if it got no answer."""
    sent = time.perf_counter()
    try:
        response = requests.post(url, json={"data": texts}, timeout=timeout)
    except requests.RequestException:
        return 0, time.perf_counter() - sent, None
    seconds = time.perf_counter() - sent
    try:
        return response.status_code, seconds, response.json()
    except ValueError:
        return response.status_code, seconds, None
