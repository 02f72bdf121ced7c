"""What a bench run measures and what it is judged against: the plan, the targets, the served variants.

The full `Plan` and `QUICK` differ only in how much they measure; docs/reports/bench.md records how long a run took.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.accuracy_gate import MAX_LOSS_POINTS as BOUND_POINTS  # one bound for bf16 and the gate

ONE_WORKER_BATCH_SIZE = 16
"""batchSize of the one-worker variant (`1x2-fp32`, the layout shipped before one worker per core): with a
single worker a batch may hold every request of the headline concurrency."""
MULTI_TEXTS = 8
MULTI_WORKLOAD = f"short x{MULTI_TEXTS}"
"""Served only: `MULTI_TEXTS` headlines per request (`{"data": [...]}`), what a client batching its own texts sends."""
MODEL_NAME = "bert"
"""The name every variant's archive is served under."""
READY_TIMEOUT = 240
PRECISION_ENV = "BERT_CLASSIFIER_PRECISION"
ENGINE_ENV = "BERT_CLASSIFIER_ENGINE"


@dataclass(frozen=True)
class Targets:
    """The goals the report gives a verdict on."""

    served_over_ceiling: float = 0.85
    """Served texts/s over the in-process ceiling of the same precision, on `workloads` at the headline
    concurrency."""
    bf16_over_fp32: float = 2.0
    """Served bf16 over served fp32 texts/s, mixed workload."""
    start_to_ready_seconds: float = 15.0
    accuracy_points: float = BOUND_POINTS
    """bf16 held-out accuracy within this many points of fp32."""
    workloads: tuple[str, ...] = ("short", "mixed")
    served_over_best_engine: tuple[tuple[str, float], ...] = (("short", 0.6), ("mixed", 0.9))
    """`engine: auto` served texts/s over the fastest engine variant's in-process ceiling, per workload (the
    median of the paired rounds' ratios where the run has them)."""
    outside_model_ms: float = 0.3
    """`engine: auto`, short texts: server CPU per request (frontend + workers) beyond the model's own."""
    auto_within_fastest: float = 0.9
    """`engine: auto` served texts/s over the fastest served engine variant's, short texts."""


@dataclass(frozen=True)
class Plan:
    """How much to measure."""

    workload_size: int = 2000
    concurrencies: tuple[int, ...] = (1, 4, 16, 64)
    load_seconds: float = 2.0
    load_max_requests: int = 5000
    drain_seconds: float = 6.0
    repeats: int = 3
    ceiling_grid: tuple[tuple[str, int, str], ...] = (
        ("short", 8, "arrival"),
        ("short", 16, "sorted"),
        ("short", 64, "sorted"),
        ("mixed", 8, "arrival"),
        ("mixed", 16, "arrival"),
        ("mixed", 16, "sorted"),
        ("mixed", 64, "sorted"),
        ("long", 16, "sorted"),
        ("pair", 8, "arrival"),
    )
    """(workload, texts per call, order) measured for every layout and variant. Length sorting only matters
    where lengths differ a lot (mixed); 8 arriving texts per call is what the shipped server's batches hold
    (batchSize 8), the engine ceiling served speeds are compared with; 16 is the headline concurrency."""
    emulated_ceiling_grid: tuple[tuple[str, int, str], ...] = (("short", 8, "arrival"), ("mixed", 8, "arrival"))
    """The ceiling points measured again on the emulated AVX2-only CPU (`bench.isa`), for the served AVX2 variants:
    the served-like ones only."""
    ceiling_samples: tuple[tuple[str, int], ...] = (("short", 960), ("mixed", 384), ("long", 64), ("pair", 64))
    """Texts per ceiling run (the first ones of each workload), each run classifying all of them."""
    ceiling_repeats: int = 2
    accuracy_limit: int | None = None
    peak_seconds: float = 1.5
    variants: tuple[str, ...] = (
        "fp32", "bf16", "auto", "ort-int8", "int8-unpinned", "netty-1", "fp32-avx2", "auto-avx2", "1x2-fp32",
        "padded-fp32", "ts-jvm-fp32", "ts-defaults",
    )  # fmt: skip
    sweep: tuple[tuple[int, int], ...] = ((4, 5), (16, 5), (8, 1), (8, 20))
    """(batchSize, maxBatchDelay) pairs registered next to the sweep variant's own values."""
    sweep_workloads: tuple[str, ...] = ("short", "mixed")
    sweep_concurrencies: tuple[int, ...] = (4, 16, 64)
    sweep_on: tuple[str, ...] = ("bf16", "fp32")
    """The sweep runs on the first of these variants that is measured."""
    sweep_repeats: int = 2
    protocols_on: tuple[str, ...] = ("auto", "fp32")
    """`/predictions`, OIP REST and TorchServe gRPC are compared (short texts, the headline concurrency) on the
    first of these variants that is measured."""
    headline_concurrency: int = 16
    pair_on: tuple[str, ...] = ("auto",)
    """Variants also measured on the `pair` workload (query + passage, one pair per request) and on
    `MULTI_WORKLOAD` at the headline concurrency."""
    restarted: tuple[str, ...] = ("auto", "auto-avx2")
    """Variants whose server is started `starts` more times, to ready only, to see whether `engine: auto` chooses
    the same variant every time."""
    starts: int = 3
    paired_on: tuple[str, ...] = ("auto", "auto-avx2")
    """Variants measured in paired rounds against the best engine's ceiling (`bench.paired`): the targets
    `served_over_best_engine` and `outside_model_ms` are judged on those rounds."""
    paired_rounds: int = 8
    targets: Targets = field(default_factory=Targets)


QUICK = Plan(
    workload_size=400,
    concurrencies=(1, 16),
    load_seconds=1.0,
    load_max_requests=400,
    drain_seconds=3.0,
    repeats=1,
    ceiling_grid=(("short", 8, "arrival"), ("mixed", 8, "arrival"), ("long", 16, "sorted"), ("pair", 8, "arrival")),
    ceiling_samples=(("short", 320), ("mixed", 96), ("long", 32), ("pair", 32)),
    ceiling_repeats=1,
    accuracy_limit=48,
    peak_seconds=0.5,
    variants=("fp32", "bf16", "auto", "ort-int8"),
    sweep=((4, 5),),
    sweep_workloads=("mixed",),
    sweep_concurrencies=(16,),
    sweep_repeats=1,
    starts=2,
    paired_rounds=2,
)


@dataclass(frozen=True)
class Variant:
    """One served configuration: an archive, the server's environment, and where it is measured."""

    name: str
    description: str
    archive: str
    """Which archive (a key of `archive_configs`)."""
    env: dict
    needs_bf16: bool = False
    workloads: tuple[str, ...] | None = None
    """Workloads to measure (default: all)."""
    concurrencies: tuple[int, ...] | None = None
    """Concurrencies to measure (default: the plan's)."""
    torchserve_jvm: bool = False
    """Start TorchServe with its own JVM settings and log4j2.xml instead of the project's."""
    avx2: bool = False
    """Emulate an AVX2-only CPU in the workers (`bench/isa.py`)."""
    frontend: dict | None = None
    """config.properties keys to set differently from the shipped file."""


def archive_configs(shipped: dict, cores: int) -> dict[str, dict]:
    """model-config.yaml per archive: the shipped one as is, and variants of it (everything else unchanged)."""
    handler = shipped.get("handler", {})
    return {
        "shipped": shipped,
        # One worker with a torch thread per core: the layout shipped before one worker per core.
        "one-worker": shipped
        | {"minWorkers": 1, "maxWorkers": 1, "batchSize": ONE_WORKER_BATCH_SIZE,
           "handler": handler | {"torch_threads": 0}},
        # TorchServe's defaults: a worker per core, batch size 1, 100 ms batch delay, torch's own thread count.
        "ts-defaults": shipped
        | {"minWorkers": cores, "maxWorkers": cores, "batchSize": 1, "maxBatchDelay": 100,
           "handler": handler | {"torch_threads": cores}},
        # The shipped config with the ONNX export and the accuracy gate packed (what `make archive` builds).
        "onnx": shipped,
    }  # fmt: skip


ENGINE_ARCHIVES = ("onnx",)
"""Archives built with the ONNX files and engines.json (`tools.archive.build_engines`, built once per run)."""


def catalog(cores: int, plan: Plan) -> dict[str, Variant]:
    """Every served variant the bench knows; `Plan.variants` (or --variants) picks which to run."""
    fp32, bf16 = {PRECISION_ENV: "fp32"}, {PRECISION_ENV: "bf16"}
    # At the headline concurrency only: one change at a time.
    partial = {"workloads": plan.sweep_workloads, "concurrencies": (plan.headline_concurrency,)}
    every = [
        Variant("fp32", "shipped config, precision fp32", "shipped", fp32),
        Variant("auto", "make archive's archive (ONNX + gate), engine auto: the probe's choice", "onnx", {}),
        Variant("ort-fp32", "ONNX archive, engine onnxruntime, fp32", "onnx",
                {ENGINE_ENV: "onnxruntime", PRECISION_ENV: "fp32"}, **partial),
        Variant("ort-int8", "ONNX archive, engine onnxruntime, int8", "onnx",
                {ENGINE_ENV: "onnxruntime", PRECISION_ENV: "int8"}, **partial),
        Variant("fp32-avx2", "shipped config, precision fp32, AVX2-only CPU emulated", "shipped",
                fp32 | {ENGINE_ENV: "torch"}, avx2=True, **partial),
        Variant("auto-avx2", "ONNX archive, engine auto, AVX2-only CPU emulated", "onnx", {}, avx2=True, **partial),
        Variant("bf16", "shipped config, precision bf16", "shipped", bf16, needs_bf16=True),
        # Every concurrency: one multi-threaded worker uses all cores for a lone request, so it wins at low load.
        Variant("1x2-fp32", f"1 worker × {cores} torch threads, batchSize {ONE_WORKER_BATCH_SIZE}, fp32",
                "one-worker", fp32, workloads=plan.sweep_workloads),
        Variant("padded-fp32", "shipped config, fp32, token packing off (each micro-batch padded to its longest)",
                "shipped", fp32 | {"BERT_CLASSIFIER_PACKING": "off"}, **partial),
        Variant("ts-jvm-fp32", "shipped config, fp32, with TorchServe's own JVM settings and log4j2.xml",
                "shipped", fp32, torchserve_jvm=True, **partial),
        Variant("int8-unpinned", "ONNX archive, int8, workers left to the OS scheduler (shipped: a core each)", "onnx",
                {ENGINE_ENV: "onnxruntime", PRECISION_ENV: "int8", "BERT_CLASSIFIER_CPU_AFFINITY": "off"}, **partial),
        Variant("netty-1", "ONNX archive, int8, one netty thread each for clients and workers (shipped: one per core)",
                "onnx", {ENGINE_ENV: "onnxruntime", PRECISION_ENV: "int8"},
                frontend={"number_of_netty_threads": "1", "netty_client_threads": "1"}, **partial),
        # Oversubscribed, so slow: skip the long texts and the deepest queue to keep the run bounded.
        Variant("ts-defaults", f"TorchServe-like defaults: {cores} workers × {cores} torch threads, batchSize 1, "
                "maxBatchDelay 100, TorchServe's JVM and logs, fp32", "ts-defaults", fp32, workloads=("short", "mixed"),
                concurrencies=tuple(c for c in plan.concurrencies if c <= plan.headline_concurrency),
                torchserve_jvm=True),
    ]  # fmt: skip
    return {variant.name: variant for variant in every}


def chosen_variants(plan: Plan, bf16: bool, cores: int, names: list[str] | None = None) -> list[Variant]:
    """The variants to run: `names` (default: the plan's), without the bf16 ones on a CPU without native bf16."""
    known = catalog(cores, plan)
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise SystemExit(f"error: unknown variant(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names or plan.variants if bf16 or not known[name].needs_bf16]
