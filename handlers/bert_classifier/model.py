"""`TextClassifier`: tokenise, batch by length, run a sequence classifier, return per-label scores."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .artifacts import validate_artifacts
from .batching import plan_micro_batches
from .engines import Engine, Selection, select_engine
from .engines.torch_engine import TorchEngine
from .errors import InvalidSetting
from .pairs import uses_token_types
from .results import TextScores
from .segments import EncodedTexts, Segment, Segmenter
from .settings import Settings

log = logging.getLogger(__name__)

OFFSET_POSITION_MODELS = ("roberta", "xlm-roberta", "camembert")
"""Models whose position ids start after the padding index, so `pad_token_id + 1` positions are never used."""
MAX_PACKED_TOKENS = 16384
"""Tokens per packed forward: beyond a few hundred the cost per token is flat, and this bounds the activations
(about 16384 x intermediate_size floats) when a batch holds many long texts."""


@dataclass
class BatchStats:
    """What one `classify` call did, for logs and metrics (never any text)."""

    texts: int = 0
    pairs: int = 0
    """Texts that were text pairs."""
    segments: int = 0
    micro_batches: int = 0
    """Length groups: micro-batches of the padded forward, attention groups of the packed one."""
    real_tokens: int = 0
    padded_tokens: int = 0
    """Tokens the matrix multiplies ran on: real tokens plus padding (equal to `real_tokens` when packed)."""
    truncated: int = 0
    tokenize_seconds: float = 0.0
    model_seconds: float = 0.0

    def add(self, other: BatchStats) -> None:
        """Count `other` (another round of the same batch) in these stats."""
        for name in (f.name for f in dataclasses.fields(self)):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def padding_ratio(self) -> float:
        """Pad tokens per real token (0 when every micro-batch had equal lengths)."""
        return (self.padded_tokens - self.real_tokens) / self.real_tokens if self.real_tokens else 0.0


class TextClassifier:
    """A loaded sequence classifier and its tokenizer. `classify` is the whole inference contract."""

    def __init__(
        self,
        model,
        tokenizer,
        labels: Sequence[str],
        settings: Settings,
        multi_label: bool,
        engine: Engine | None = None,
        config=None,
    ) -> None:
        """`engine` turns token ids into logits; without one, `model` runs in torch as `settings` say. `config`:
        the model's (default `model.config`), which says whether it reads token type ids."""
        if model is not None:
            _check_positions(model.config, settings.max_length)
            config = config or model.config
        self.tokenizer = tokenizer
        self.labels = tuple(labels)
        self.settings = settings
        self.multi_label = multi_label
        self._pad = tokenizer.pad_token_id or 0
        self.segmenter = Segmenter(tokenizer, settings, uses_token_types(tokenizer, config) if config else None)
        self.engine = engine or TorchEngine(model, settings.precision, settings.packing, self._pad)
        self.model = getattr(self.engine, "model", None)
        """The torch model (None when another engine runs)."""
        self.device = self.engine.device
        self.selection = Selection(self.engine)
        self.model_dir: Path | None = None
        """Where `load` read the model from (explanations load the torch model from it when another engine runs)."""

    @property
    def forward_kind(self) -> str:
        """`packed` (no pad token in any matmul) or `padded` (each micro-batch padded to its longest text)."""
        return "packed" if self.engine.packed else "padded"

    @classmethod
    def load(
        cls, model_dir: str | Path, settings: Settings, device: torch.device | str = "cpu", batch_size: int = 1
    ) -> TextClassifier:
        """Validate and load `model_dir` (save_pretrained layout, safetensors weights) onto `device`. `batch_size`
        is the most requests a batch of the host holds: `engine: auto` probes the variants on that many texts."""
        from transformers import AutoConfig, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a progress bar per worker start only clutters the log
        summary = validate_artifacts(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        if not tokenizer.is_fast:
            raise TypeError(f"{model_dir}: a fast (Rust) tokenizer is required")
        # Some checkpoints ship tokenizer.json with padding/truncation fixed; we pad and truncate ourselves.
        tokenizer.backend_tokenizer.no_padding()
        tokenizer.backend_tokenizer.no_truncation()
        config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
        _check_positions(config, settings.max_length)

        def load_model():
            return load_torch_model(model_dir, device)

        probed: dict[int, TextClassifier] = {}

        def run(engine: Engine, texts: Sequence[str]) -> None:
            # One classifier per candidate: building one (~12 ms, the tokenizer's pair template) is no part of
            # what serving a request costs, and would drown a headline's 1 ms.
            if id(engine) not in probed:
                probed[id(engine)] = cls(None, tokenizer, summary.labels, settings, summary.multi_label, engine, config)
            probed[id(engine)].classify(texts)

        selection = select_engine(
            model_dir, settings, torch.device(device), load_model, run, tokenizer.pad_token_id or 0, batch_size
        )
        classifier = cls(None, tokenizer, summary.labels, settings, summary.multi_label, selection.engine, config)
        classifier.selection = selection
        classifier.model_dir = Path(model_dir)
        return classifier

    def encode(self, texts: Sequence[str], pairs: Sequence[str | None] = ()) -> EncodedTexts:
        """Tokenize one request's texts into model rows (truncated or windowed); a text with a second text in
        `pairs` is one pair row. Raises `InvalidInput` for a pair `window` mode cannot read, else only on a
        tokenizer fault."""
        return self.segmenter.encode(texts, pairs)

    def score(self, encoded: Sequence[EncodedTexts]) -> tuple[list[list[TextScores]], BatchStats]:
        """Scores for every text of every encoded request, all run together: one list per request, in order."""
        segments = [segment for item in encoded for segment in item.segments]
        stats = BatchStats(texts=sum(len(item.truncated) for item in encoded), segments=len(segments))
        stats.truncated = sum(sum(item.truncated) for item in encoded)
        stats.pairs = sum(item.pairs for item in encoded)
        stats.tokenize_seconds = sum(item.tokenize_seconds for item in encoded)
        started = time.perf_counter()
        segment_scores = self._score_segments(segments, stats) if segments else []
        stats.model_seconds = time.perf_counter() - started
        results, position = [], 0
        for item in encoded:
            own = segment_scores[position : position + len(item.segments)]
            position += len(item.segments)
            results.append(_per_text(item, own))
        return results, stats

    def classify(self, texts: Sequence[str], pairs: Sequence[str | None] = ()) -> tuple[list[TextScores], BatchStats]:
        """Score every text (with its second text in `pairs`, if any, as a pair); results are in the order of
        `texts`."""
        if not texts:
            return [], BatchStats()
        scores, stats = self.score([self.encode(texts, pairs)])
        return scores[0], stats

    def _score_segments(self, segments: list[Segment], stats: BatchStats) -> list[list[float]]:
        lengths = [len(segment.token_ids) for segment in segments]
        plan = plan_micro_batches(lengths, self.settings.token_budget)
        groups = [[segments[i].token_ids for i in group] for group in plan]
        types = None
        if any(segment.type_ids for segment in segments):
            types = [[segments[i].type_ids or (0,) * lengths[i] for i in group] for group in plan]
        order = [i for group in plan for i in group]
        stats.micro_batches = len(groups)
        stats.real_tokens = sum(lengths)
        stats.padded_tokens = stats.real_tokens if self.engine.packed else sum(len(g) * len(g[0]) for g in groups)
        scores: list[list[float]] = [[]] * len(segments)
        # One conversion to Python floats for the whole batch: a tensor per row costs more than the row's math.
        for i, row_scores in zip(order, self._score_groups(groups, types).tolist(), strict=True):
            scores[i] = row_scores
        return scores

    def _score_groups(self, groups: list[list[list[int]]], types: list | None) -> torch.Tensor:
        """Scores of every row of every group, in that order (`types`: the rows' token types, or None)."""
        chunks = self._forward_chunks(groups)
        type_chunks = self._forward_chunks(types) if types else [None] * len(chunks)
        return torch.cat([self._score_chunk(*pair) for pair in zip(chunks, type_chunks, strict=True)])

    def _score_chunk(self, chunk: list, types: list | None = None, retry_on_oom: bool = True) -> torch.Tensor:
        """Scores of one forward's rows; on CUDA out-of-memory, split them in two and retry once."""
        try:
            return self._forward(chunk, types)
        except torch.cuda.OutOfMemoryError:
            rows = sum(len(group) for group in chunk)
            if not retry_on_oom or rows < 2:
                raise
            log.warning("CUDA out of memory on %d rows: splitting them once", rows)
            torch.cuda.empty_cache()
            (first, second), (first_types, second_types) = _halves(chunk), _halves(types) if types else (None, None)
            return torch.cat(
                [self._score_chunk(first, first_types, False), self._score_chunk(second, second_types, False)]
            )

    def _forward_chunks(self, groups: list[list[list[int]]]) -> list[list[list[list[int]]]]:
        """Packed: groups together up to `MAX_PACKED_TOKENS` per forward; padded: one forward per group."""
        if not self.engine.packed:
            return [[group] for group in groups]
        chunks: list[list[list[list[int]]]] = []
        tokens = 0
        for group in groups:
            size = sum(len(row) for row in group)
            if not chunks or tokens + size > MAX_PACKED_TOKENS:
                chunks.append([])
                tokens = 0
            chunks[-1].append(group)
            tokens += size
        return chunks

    def _forward(self, groups: list[list[list[int]]], types: list | None = None) -> torch.Tensor:
        """Probabilities (fp32, on the CPU) of every row of `groups`, in that order. A one-logit model (a
        cross-encoder) gets its logit's sigmoid, as sentence-transformers' `CrossEncoder` scores it: a softmax
        over one logit is always 1."""
        logits = (self.engine.logits(groups, types) if types else self.engine.logits(groups)).float()
        sigmoid = self.multi_label or logits.shape[-1] == 1
        scores = torch.sigmoid(logits) if sigmoid else torch.softmax(logits, dim=-1)
        return scores.cpu()


def load_torch_model(model_dir: str | Path, device: torch.device | str = "cpu"):
    """The Hugging Face model saved in `model_dir` (safetensors weights, as saved: fp32), on `device`, in eval mode."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        str(model_dir), local_files_only=True, use_safetensors=True
    )
    return model.to(device).eval()


def _per_text(encoded: EncodedTexts, scores: list[list[float]]) -> list[TextScores]:
    """Average the window scores of each text (one window per text in truncate mode)."""
    grouped: dict[int, list[list[float]]] = {}
    for segment, segment_scores in zip(encoded.segments, scores, strict=True):
        grouped.setdefault(segment.text_index, []).append(segment_scores)
    return [TextScores(_mean(grouped[i]), truncated) for i, truncated in enumerate(encoded.truncated)]


def _mean(rows: list[list[float]]) -> tuple[float, ...]:
    """The column means of `rows` (the row itself when there is one)."""
    if len(rows) == 1:
        return tuple(rows[0])
    return tuple(sum(column) / len(rows) for column in zip(*rows, strict=True))


def _check_positions(config, max_length: int) -> None:
    """`max_length` beyond the model's position embeddings passes a short warm-up and then fails every long
    batch: refuse it at load time instead."""
    limit = getattr(config, "max_position_embeddings", None)
    if limit is None:
        return
    if getattr(config, "model_type", None) in OFFSET_POSITION_MODELS:
        limit -= (getattr(config, "pad_token_id", None) or 0) + 1
    if max_length > limit:
        raise InvalidSetting(f"max_length={max_length} is more than this model's {limit} position embeddings")


def _halves(groups: list[list[list[int]]]) -> tuple[list, list]:
    """Two halves of the rows of `groups` (each keeping its groups), for the out-of-memory retry."""
    if len(groups) > 1:
        return groups[: len(groups) // 2], groups[len(groups) // 2 :]
    rows = groups[0]
    return [rows[: len(rows) // 2]], [rows[len(rows) // 2 :]]
