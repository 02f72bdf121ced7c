"""What one bench run measured, as typed records: the runner fills them, the report reads them.

`Results` is written as `bench-results.json` next to the report and read back with `Results.load`, so a report
can be rendered again from the raw results (`python -m bench.report docs/reports/bench-results.json`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import dacite

from training.precision_accuracy import AccuracyReport

from .plan import Plan
from .processes import RequestCost


@dataclass
class Machine:
    cpu: str = "?"
    usable_cores: int = 0
    logical_cpus: int | None = None
    memory_gib: float = 0.0
    native_bf16: bool = False
    """The serving core's own test (`bert_classifier.device.cpu_supports_bf16`)."""
    avx512_bf16: bool = False
    amx_bf16: bool = False
    avx512f: bool = False
    python: str = "?"
    torch: str = "?"
    torchserve: str = "?"
    transformers: str = "?"
    os: str = "?"
    busy_percent_before: float | None = None
    """What else was running when the bench started."""
    load_average_before: list[float] = field(default_factory=list)


@dataclass
class Peaks:
    """Best matmul FLOP/s per precision on a `size`³ GEMM with `threads` threads."""

    fp32: float
    bf16: float
    size: int
    threads: int


@dataclass
class ModelInfo:
    dir: str
    settings: dict
    """The shipped handler settings (`bert_classifier.settings.Settings` fields)."""
    shipped_config: dict
    """The shipped model-config.yaml's frontend keys (workers, batchSize, maxBatchDelay, ...)."""
    auto_dtype: str
    """What `precision: auto` runs on this machine."""
    matmul_params: int = 0
    params: int = 0


@dataclass
class WorkloadSummary:
    name: str
    texts: int
    long_share: float
    mean_tokens: float
    max_tokens: int
    mean_flops: float


@dataclass(frozen=True)
class CeilingPoint:
    """One in-process ceiling variant: workload, precision, layout, texts per call and order."""

    workload: str
    precision: str
    layout: str
    batch: int
    order: str
    texts_per_second: float
    """Median over the repetitions."""
    flops_per_second: float
    runs: int
    foreign_cores: float = 0.0
    """Median cores other processes kept busy during the runs (a shared machine disturbs the numbers)."""
    engine: str = "torch"
    """`torch` or `onnxruntime`: with `precision`, the variant the pool ran (`bert_classifier.engines`)."""
    cpu_ms_per_text: float | None = None
    """CPU the pool's processes spent per text (median over the runs; not the process handing out the batches): the
    model's own cost, no server."""
    isa: str = "native"
    """`native` (the host's instructions) or `avx2` (an AVX2-only CPU emulated: `bench.isa`)."""

    @property
    def variant(self) -> str:
        return f"{self.engine}-{self.precision}"


@dataclass
class PairedRound:
    """One round of `bench.paired` on one workload: a served run at the headline concurrency between two runs of
    the best engine's in-process ceiling, so the machine's drift meets both sides of the ratio."""

    variant: str
    """The served variant (`auto`)."""
    workload: str
    number: int
    """Which round, from 1."""
    ceiling_variant: str
    """The engine variant of the ceiling (`onnxruntime-int8`)."""
    ceiling_texts_per_second: list[float]
    """The ceiling's runs just before and just after the served run."""
    ceiling_cpu_ms_per_text: list[float]
    served_texts_per_second: float
    texts_per_request: float
    cost: RequestCost | None = None
    foreign_cores: float = 0.0
    """The most cores other processes kept busy during any of the round's three runs."""

    @property
    def ceiling(self) -> float:
        return sum(self.ceiling_texts_per_second) / len(self.ceiling_texts_per_second)

    @property
    def ratio(self) -> float:
        """Served texts/s over the mean of the two ceiling runs around it."""
        return self.served_texts_per_second / self.ceiling if self.ceiling else 0.0

    @property
    def outside_model_ms(self) -> float | None:
        """Server CPU per request (frontend + workers) less the ceiling's CPU for the request's texts."""
        if not self.cost:
            return None
        model_ms = sum(self.ceiling_cpu_ms_per_text) / len(self.ceiling_cpu_ms_per_text)
        return self.cost.server_ms - model_ms * self.texts_per_request


@dataclass
class ServerStats:
    """What the server's own metrics counted during a run (`bench.server_metrics`); None where not exported."""

    texts_per_batch: float | None = None
    model_ms_per_batch: float | None = None
    padding: float | None = None
    """Padded tokens per real token."""
    model_busy: float | None = None
    """Share of worker time spent in the model forward."""
    tokenize_busy: float | None = None
    server_ms: float | None = None
    """Frontend receipt to response, per request."""
    queue_ms: float | None = None


@dataclass
class Measured:
    """One point of closed-loop load: medians over its repetitions, counts summed (`bench.served.summarise`)."""

    runs: int
    texts_per_second: float
    texts_per_second_runs: list[float]
    requests_per_second: float
    flops_per_second: float
    p50: float
    p90: float
    p99: float
    """Latency percentiles in seconds."""
    requests: int
    unfinished: int
    errors: int
    error_kinds: dict[str, int]
    client_cpu: float
    """Cores the load generator itself used."""
    foreign_cores: float
    """Cores used by processes outside the bench."""
    server: ServerStats = field(default_factory=ServerStats)
    cost: RequestCost | None = None
    """CPU per answered request by process (`bench.processes`), medians over the runs."""


@dataclass
class ServedPoint:
    variant: str
    workload: str
    concurrency: int
    measured: Measured


@dataclass
class SweepPoint:
    """The sweep variant's archive registered again with another batchSize / maxBatchDelay."""

    variant: str
    batch_size: int
    max_batch_delay: int
    workload: str
    concurrency: int
    measured: Measured


@dataclass
class ProtocolPoint:
    """One protocol on the protocols variant's server: short texts, one per request, the headline concurrency."""

    variant: str
    protocol: str
    """`predictions`, `oip-rest` or `grpc` (`bench.protocols.PROTOCOLS`)."""
    runs: int
    texts_per_second: float
    p50: float
    p99: float
    errors: int


@dataclass
class VariantRecord:
    """One served variant as it ran: its archive's frontend config and what its workers logged at start."""

    name: str
    description: str
    archive: str
    env: dict[str, str]
    partial: bool
    """Measured at one concurrency only (a one-change-at-a-time variant)."""
    config: dict
    """The archive's model-config.yaml frontend keys (minWorkers, batchSize, maxBatchDelay, ...)."""
    start_to_ready_seconds: float | None = None
    dtype: str | None = None
    torch_threads: int | None = None
    workers_logged: int | None = None
    engine: str | None = None
    chosen_by: str | None = None
    """How `engine: auto` chose (the probe's figures), as the workers logged it."""
    cpu_isa: str | None = None
    emulated_isa: str | None = None
    """Under the AVX2 emulation: what torch reports in a process with the workers' environment (`bench.isa`)."""
    error: str | None = None


@dataclass
class StartRecord:
    """One start of a server to ready, to see what `engine: auto` chose each time (`bench.served.run_starts`)."""

    variant: str
    seconds: float
    served: str
    """The engine and precision the workers logged, e.g. `onnxruntime-int8`."""
    chosen_by: str


@dataclass
class ArchiveRecord:
    seconds: float
    config: dict


class JsonRecord:
    """Raw results of a run as a JSON file: `to_json`/`save` and their inverse `from_dict`/`load` (typed by dacite;
    derived numbers a `to_json` adds are ignored on the way back: the records compute them)."""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    def save(self, path: Path) -> Path:
        path.write_text(self.to_json() + "\n", encoding="utf-8")
        return path

    @classmethod
    def from_dict(cls, data: dict):
        return dacite.from_dict(cls, data, config=dacite.Config(cast=[tuple]))

    @classmethod
    def load(cls, path: Path):
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


@dataclass
class Results(JsonRecord):
    """Everything one `python -m bench` run measured."""

    command: str
    quick: bool
    plan: Plan
    started: str
    machine: Machine
    model: ModelInfo
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds per phase."""
    peaks: Peaks | None = None
    workloads: list[WorkloadSummary] = field(default_factory=list)
    accuracy: AccuracyReport | None = None
    ceiling: list[CeilingPoint] = field(default_factory=list)
    archives: dict[str, ArchiveRecord] = field(default_factory=dict)
    engines: dict | None = None
    """The accuracy gate's record (`tools.archive.build_engines`, `engines.json`) for the ONNX archive."""
    variants: list[VariantRecord] = field(default_factory=list)
    served: list[ServedPoint] = field(default_factory=list)
    sweep: list[SweepPoint] = field(default_factory=list)
    protocols: list[ProtocolPoint] = field(default_factory=list)
    starts: list[StartRecord] = field(default_factory=list)
    paired: list[PairedRound] = field(default_factory=list)
    duration_seconds: float = 0.0

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["accuracy"] = self.accuracy.as_dict() if self.accuracy else None  # with its derived numbers
        return json.dumps(data, indent=1)
