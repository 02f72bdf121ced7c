"""What one `python -m bench.explanations` run measured, as typed records: the runner fills them, the report
reads them. Saved as `explanations-results.json` next to the report; `ExplainResults.load` reads it back, so
`--render` writes the report again without measuring."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records import JsonRecord, Machine
from .plan import Plan


@dataclass
class CostSample:
    """One request of the cost phase: its explanation through the `_explain` pool, then the same body's
    prediction through the prediction workers."""

    texts: int
    tokens: list[int]
    """Tokens explained per text (special tokens included, at most `max_explained_tokens`)."""
    words: list[int]
    """Words per text as sent."""
    status: int
    seconds: float
    """Explanation: request sent to answer received."""
    steps: int | None = None
    """Integration steps the answer reports."""
    prediction_status: int | None = None
    prediction_seconds: float | None = None


@dataclass
class CostPoint:
    kind: str
    """`plan.COST_KINDS` key."""
    samples: list[CostSample] = field(default_factory=list)


@dataclass
class LoadSummary:
    """One closed-loop client group during one layout run (`bench.load.LoadResult`, percentiles in seconds)."""

    clients: int
    requests: int
    seconds: float
    per_second: float
    p50: float | None
    p90: float | None
    p99: float | None
    errors: dict[str, int] = field(default_factory=dict)
    unfinished: int = 0
    foreign_cores: float = 0.0
    """Cores other processes kept busy during the run (a shared machine disturbs the numbers)."""


@dataclass
class LayoutRun:
    layout: str
    """`plan.LAYOUTS` key."""
    repeat: int
    predictions: LoadSummary
    explanations: LoadSummary | None = None


@dataclass
class ExplainResults(JsonRecord):
    command: str
    quick: bool
    started: str
    plan: Plan
    machine: Machine
    archive: str
    """How the archive was built (or which one was given)."""
    settings: dict
    """The handler's explanation settings as served (`bert_classifier.settings.Settings`)."""
    pools: dict
    """{model name: its frontend config as TorchServe describes it (workers, batchSize, maxBatchDelay)}."""
    workers: dict = field(default_factory=dict)
    """What the prediction workers logged at start (`bench.server_metrics.worker_facts`: engine, dtype)."""
    first_explanation_seconds: float | None = None
    """The `_explain` worker's first explanation (imports Captum, loads the fp32 model, picks the baseline)."""
    costs: list[CostPoint] = field(default_factory=list)
    layouts: list[LayoutRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Phases that could not be measured, and why."""
    load_average_after: list[float] = field(default_factory=list)
    duration_seconds: float = 0.0
