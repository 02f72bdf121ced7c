"""Serving settings: one frozen dataclass, read in one place from handler settings and environment variables.

Precedence: environment variable > handler setting (the `handler:` section of `model-config.yaml`) > default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidSetting

ENV_PREFIX = "BERT_CLASSIFIER_"
LONG_TEXT_MODES = ("truncate", "window")
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8")
ENGINES = ("auto", "torch", "onnxruntime")
TORCH_PRECISIONS = ("auto", "fp32", "bf16", "fp16")
ONNXRUNTIME_PRECISIONS = ("auto", "fp32", "int8")
PACKINGS = ("auto", "off")
EXPLANATION_MODES = ("off", "own_pool", "shared")
EXPLAIN_POOL_SUFFIX = "_explain"
"""With `explanations: own_pool`, the worker pool that explains is the one registered under a model name ending
in this (the same archive registered again: `make serve`, `make kserve-bundle EXPLANATIONS=own_pool`)."""
BATCH_LOGS = ("errors", "all", "off")
CPU_AFFINITIES = ("auto", "off")


@dataclass(frozen=True)
class Settings:
    """How the classifier tokenises, batches and scores. Every field is a handler setting of the same name."""

    max_length: int = 256
    """Tokens per text (or per window), special tokens included; longer texts are truncated or windowed."""
    token_budget: int = 512
    """Padded tokens per micro-batch: texts are sorted by length and grouped up to this many tokens, each
    micro-batch padded only to its longest, and a text shorter than half the longest starts a new one (512 measured
    best on 2 CPU cores: `make bench`). With token packing a micro-batch is an attention group: only attention is
    padded, per micro-batch."""
    max_texts_per_request: int = 64
    """More texts than this in one request is a 413."""
    max_tokens_per_request: int = 16384
    """More model input than this in one request (tokens of every segment, special tokens included) is a 413.
    The default, 64 texts x 256 tokens, never stops a request in `truncate` mode; it bounds `window` mode, where
    each text may be up to `max_windows` segments (raise both limits together, as for Batch Transform). It also
    bounds one round of a batch (`batch_deadline_seconds`)."""
    batch_deadline_seconds: float = 25.0
    """Once a batch has run this long, its requests not yet classified get a 503 (retry) instead of running.
    Requests run in rounds of at most `max_tokens_per_request` tokens, cheapest first, so a batch lasts at most
    this plus one round: keep that under TorchServe's `responseTimeout`, past which the worker is killed and every
    request of the batch fails. At most half of `responseTimeout` (a unit test holds the shipped values to it;
    docs/reliability.md)."""
    max_request_bytes: int = 6 * 1024 * 1024
    """A larger body is a 413 that names this limit, for front ends without TorchServe's frontend (Lambda, script
    mode). TorchServe's `max_request_size` in config.properties is equal to it (a unit test keeps them equal), so
    there the frontend refuses a larger body first, with its own 413 and an empty body."""
    top_k: int = 1
    """Default number of best labels returned per text (a request's `top_k` parameter overrides it)."""
    long_text: str = "truncate"
    """`truncate` keeps the first `max_length` tokens; `window` scores overlapping windows and averages them."""
    window_stride: int = 128
    """Window mode: tokens of overlap between consecutive windows."""
    max_windows: int = 8
    """Window mode: at most this many windows per text; the rest of the text is reported as truncated."""
    multi_label_threshold: float = 0.5
    """Multi-label models: every label whose sigmoid score is at least this is returned."""
    rerank_label: str = ""
    """Reranking (`{"query", "documents"}`) with a model of more than one label: the label whose score ranks the
    documents (e.g. `entailment`, `LABEL_1`). Empty: only a one-logit cross-encoder can rerank (its sigmoid ranks)."""
    engine: str = "auto"
    """`torch`, `onnxruntime` (the archive's ONNX export; `make archive`) or `auto`: on a CPU, a timed probe at the
    first start on a host picks among torch fp32 and the variants the archive's accuracy gate admitted (torch bf16
    only on a CPU with native bf16), and every later worker of the archive on that host reuses the choice; on a
    GPU, torch. docs/engines.md."""
    precision: str = "auto"
    """`fp32`, `bf16`, `fp16` (torch), `int8` (onnxruntime) or `auto`. With `engine: torch`, `auto` is bf16 (fp16
    where bf16 is not supported) on a GPU; on a CPU with native bf16 (AVX512-BF16 or AMX) the start-up probe times
    fp32 against bf16 if the archive's accuracy gate admitted bf16, else (no gate, or bf16 not measured) it is
    fp32, as on other CPUs. With the `onnxruntime` or `auto` engines a fixed precision narrows the probe to that
    precision's variants. A fixed precision runs whatever the gate said (the log warns)."""
    torch_threads: int = 0
    """Intra-op threads per worker, for torch and ONNX Runtime alike; 0 = the usable cores divided by the number of
    workers."""
    cpu_affinity: str = "auto"
    """`auto`: on a CPU, each TorchServe worker keeps its threads to cores no other worker of this user holds, while
    the host has such cores (the rest run unpinned); `off`: the OS scheduler moves workers between cores.
    docs/performance.md."""
    packing: str = "auto"
    """`auto`: BERT models run packed, the texts of a batch concatenated so no pad token reaches a matrix
    multiply (attention still runs per micro-batch); other architectures run padded (the start-up log says
    `forward=padded`). `off`: always padded."""
    batch_log: str = "errors"
    """The handler's line per batch (`batch requests=N texts=T errors=E ...`: counts and timings, never text):
    `errors` logs it for batches that answered at least one error, `all` for every batch, `off` never. Every line
    passes through TorchServe's frontend into model_log.log; on short texts one line per batch cost the worker
    about a tenth of its CPU (py-spy, docs/performance.md), so `all` is for diagnosing batching, as the tests and
    `make reliability` do."""
    explain_steps: int = 64
    """Explanations: integration steps per text (Gauss-Legendre points) unless a request's `steps` asks otherwise.
    The cost of a text is about `steps` forward and backward passes over its tokens."""
    max_explain_steps: int = 64
    """Explanations: a request's `steps` above this is a 400. With `max_explained_texts_per_batch` and
    `max_explained_tokens` it bounds the explanation work of one batch, which must end within `responseTimeout`."""
    max_texts_per_explanation: int = 2
    """Explanations: more texts than this in one request is a 413."""
    max_explained_tokens: int = 256
    """Explanations: tokens of a text that are explained, special tokens included (never more than `max_length`,
    the model's view of a text). The rest of a longer text is not read and the result says `truncated`."""
    explanations: str = "off"
    """Whether this worker pool explains (`POST /explanations/<model>`, the v1/v2 explain routes, SageMaker's
    `explain=true`, Lambda's `/explanations`). An explanation holds a worker for seconds, and predictions batched
    with it wait (`make bench-explanations`: 64 predictions/s fell to 0.8/s next to one explanation client).
    `off`: every explanation request is a 403 naming this setting. `own_pool`: only the pool whose model name
    ends in `_explain` (the same archive registered again with its own workers) explains; the prediction pool
    answers 403 pointing there. `shared`: every pool explains next to its predictions, which pay that cost (on
    Lambda each execution environment serves one request at a time, so there it costs no prediction anything)."""
    max_explained_texts_per_batch: int = 2
    """Explanations: texts one batch may explain; an explanation request beyond it is a 429 (retry), so a batch
    that mixes predictions and explanations holds its worker at most this many explained texts long. At least
    `max_texts_per_explanation`, so the first explanation request of a batch always fits."""

    def __post_init__(self) -> None:
        _require(self.max_length >= 8, "max_length must be at least 8")
        _require(self.max_length <= 8192, "max_length must be at most 8192")
        _require(self.token_budget >= self.max_length, "token_budget must be at least max_length")
        _require(self.max_texts_per_request >= 1, "max_texts_per_request must be at least 1")
        _require(self.max_tokens_per_request >= self.max_length, "max_tokens_per_request must be at least max_length")
        _require(self.batch_deadline_seconds > 0, "batch_deadline_seconds must be positive")
        _require(self.max_request_bytes >= 1, "max_request_bytes must be at least 1")
        _require(self.top_k >= 1, "top_k must be at least 1")
        _require(self.long_text in LONG_TEXT_MODES, f"long_text must be one of {LONG_TEXT_MODES}")
        _require(self.window_stride >= 0, "window_stride must not be negative")
        if self.long_text == "window":
            _require(self.window_stride < self.max_length - 2, "window_stride must be less than max_length - 2")
        _require(self.max_windows >= 1, "max_windows must be at least 1")
        _require(0.0 < self.multi_label_threshold < 1.0, "multi_label_threshold must be in (0, 1)")
        _require(self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}")
        _require(self.engine in ENGINES, f"engine must be one of {ENGINES}")
        if self.engine == "torch":
            _require(self.precision in TORCH_PRECISIONS, f"engine torch runs precision {TORCH_PRECISIONS}")
        if self.engine == "onnxruntime":
            _require(
                self.precision in ONNXRUNTIME_PRECISIONS, f"engine onnxruntime runs precision {ONNXRUNTIME_PRECISIONS}"
            )
        _require(self.torch_threads >= 0, "torch_threads must be 0 (auto) or positive")
        _require(self.packing in PACKINGS, f"packing must be one of {PACKINGS}")
        _require(self.explanations in EXPLANATION_MODES, f"explanations must be one of {EXPLANATION_MODES}")
        _require(self.batch_log in BATCH_LOGS, f"batch_log must be one of {BATCH_LOGS}")
        _require(self.cpu_affinity in CPU_AFFINITIES, f"cpu_affinity must be one of {CPU_AFFINITIES}")
        _require(1 <= self.explain_steps <= self.max_explain_steps, "explain_steps must be in [1, max_explain_steps]")
        _require(self.max_texts_per_explanation >= 1, "max_texts_per_explanation must be at least 1")
        _require(self.max_explained_tokens >= 3, "max_explained_tokens must be at least 3")
        _require(
            self.max_explained_texts_per_batch >= self.max_texts_per_explanation,
            "max_explained_texts_per_batch must be at least max_texts_per_explanation",
        )


def read_model_config(path: str | Path | None) -> dict:
    """A model-config.yaml as a dict; `{}` when `path` is None or empty."""
    import yaml

    if path is None:
        return {}
    return yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}


def settings_from_model_config(model_config: Mapping | None, env: Mapping[str, str] | None = None) -> Settings:
    """The one reader from a model-config (its `handler:` section) and the environment to `Settings`; every front
    end (TorchServe, SageMaker script mode, Lambda), the training run and the bench go through it."""
    return read_settings((model_config or {}).get("handler"), env)


def read_settings(handler_settings: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Build `Settings` from handler settings and `BERT_CLASSIFIER_<FIELD>` environment variables.

    Raises `InvalidSetting` naming the setting for an unknown key or a value of the wrong type.
    """
    handler_settings = dict(handler_settings or {})
    env = os.environ if env is None else env
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    unknown = sorted(set(handler_settings) - set(fields))
    if unknown:
        raise InvalidSetting(f"unknown handler setting(s): {', '.join(unknown)}; known: {', '.join(fields)}")
    values = {}
    for name, field in fields.items():
        raw = env.get(ENV_PREFIX + name.upper(), handler_settings.get(name))
        if raw is not None:
            values[name] = _convert(name, raw, type(field.default))
    return Settings(**values)


def _convert(name: str, raw: Any, kind: type) -> Any:
    try:
        if isinstance(raw, bool):  # YAML `true` would otherwise become 1
            raise TypeError
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError  # int(1.5) would silently become 1
        return kind(raw)
    except (TypeError, ValueError):
        raise InvalidSetting(f"setting {name}={raw!r} is not a valid {kind.__name__}") from None


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidSetting(message)
