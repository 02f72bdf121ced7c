"""What `python -m bench.explanations` measures, and how long each phase may take."""

from __future__ import annotations

from dataclasses import dataclass

COST_KINDS = (
    ("sentence", "one sentence (a held-out article's first)", 1),
    ("60-words", "a ~60-word text (a held-out article's first 60 words)", 1),
    ("article", "a full held-out article (the first 256 tokens explained)", 1),
    ("two-articles", "two full held-out articles in one request (the per-request cap)", 2),
)
"""(key, description, texts per request) of the cost phase, in the report's order."""

LAYOUTS = (
    ("alone", "predictions alone, 2 workers"),
    ("shared", "+ explanations on the same workers"),
    ("alone-pool-idle", "predictions alone, explain pool registered and idle"),
    ("own-pool", "+ explanations on their own worker (`_explain`)"),
)
"""(key, title) of the layouts phase, in the report's order."""


@dataclass(frozen=True)
class Plan:
    cost_requests: int = 5
    """Requests per cost kind (each a different held-out article), one at a time."""
    cost_seconds: float = 120.0
    """No new request of a cost kind is started after this many seconds of it."""
    layout_seconds: float = 45.0
    """Length of one layout run (closed-loop load; answers still in flight get `drain_seconds`)."""
    layout_repeats: int = 2
    """Runs per layout, interleaved (alone, with explanations, alone, ...); the report gives their medians."""
    prediction_clients: int = 2
    prediction_words: int = 40
    explanation_clients: int = 1
    explanation_words: int = 60
    drain_seconds: float = 60.0
    request_timeout: float = 120.0
    """A client gives up on one request after this long (TorchServe's responseTimeout is 60 s)."""


QUICK = Plan(cost_requests=2, cost_seconds=30.0, layout_seconds=10.0, layout_repeats=1, drain_seconds=30.0)
