"""`TextClassifier`: tokenise, batch by length, run a sequence classifier, return per-label scores."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .artifacts import validate_artifacts
from .batching import plan_micro_batches, split_into_windows
from .device import select_dtype
from .results import TextScores
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BatchStats:
    """What one `classify` call did, for logs and metrics (never any text)."""

    texts: int = 0
    segments: int = 0
    micro_batches: int = 0
    real_tokens: int = 0
    padded_tokens: int = 0
    truncated: int = 0
    tokenize_seconds: float = 0.0
    model_seconds: float = 0.0

    @property
    def padding_ratio(self) -> float:
        """Pad tokens per real token (0 when every micro-batch had equal lengths)."""
        return (self.padded_tokens - self.real_tokens) / self.real_tokens if self.real_tokens else 0.0


@dataclass(frozen=True)
class _Segment:
    text_index: int
    token_ids: list[int]


class TextClassifier:
    """A loaded sequence classifier and its tokenizer. `classify` is the whole inference contract."""

    def __init__(self, model, tokenizer, labels: Sequence[str], settings: Settings, multi_label: bool) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.labels = tuple(labels)
        self.settings = settings
        self.multi_label = multi_label
        self.device = next(model.parameters()).device
        self.dtype = select_dtype(self.device, settings.precision)
        if self.dtype != torch.float32:
            # Half-precision weights, cast once: autocast would re-cast every weight on every forward (measured
            # 5-15% slower on CPU). Logits are turned back into fp32 before softmax.
            self.model.to(self.dtype)
        self._cls, self._sep = tokenizer.cls_token_id, tokenizer.sep_token_id
        self._pad = tokenizer.pad_token_id or 0

    @classmethod
    def load(cls, model_dir: str | Path, settings: Settings, device: torch.device | str = "cpu") -> TextClassifier:
        """Validate and load `model_dir` (save_pretrained layout, safetensors weights) onto `device`."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # a progress bar per worker start only clutters the log
        summary = validate_artifacts(model_dir)
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
        if not tokenizer.is_fast:
            raise TypeError(f"{model_dir}: a fast (Rust) tokenizer is required")
        # Some checkpoints ship tokenizer.json with padding/truncation fixed; we pad and truncate ourselves.
        tokenizer.backend_tokenizer.no_padding()
        tokenizer.backend_tokenizer.no_truncation()
        model = AutoModelForSequenceClassification.from_pretrained(
            str(model_dir), local_files_only=True, use_safetensors=True
        )
        model.to(device).eval()
        return cls(model, tokenizer, summary.labels, settings, summary.multi_label)

    def classify(self, texts: Sequence[str]) -> tuple[list[TextScores], BatchStats]:
        """Score every text; results are in the order of `texts`."""
        stats = BatchStats(texts=len(texts))
        if not texts:
            return [], stats
        started = time.perf_counter()
        segments, truncated = self._segments(texts)
        stats.tokenize_seconds = time.perf_counter() - started
        stats.segments, stats.truncated = len(segments), sum(truncated)
        started = time.perf_counter()
        segment_scores = self._score_segments(segments, stats)
        stats.model_seconds = time.perf_counter() - started
        return self._per_text(segments, segment_scores, truncated), stats

    def _segments(self, texts: Sequence[str]) -> tuple[list[_Segment], list[bool]]:
        """Token ids with special tokens, one segment per text (truncate) or per window (window mode)."""
        # verbose=False: we truncate or window ourselves, so the tokenizer's too-long warning is noise.
        tokenized = self.tokenizer(list(texts), add_special_tokens=False, return_attention_mask=False, verbose=False)
        encoded = tokenized["input_ids"]
        room = self.settings.max_length - 2
        segments, truncated = [], []
        for index, ids in enumerate(encoded):
            if self.settings.long_text == "window":
                windows = split_into_windows(ids, room, self.settings.window_stride, self.settings.max_windows)
                covered = _covered(len(ids), room, self.settings.window_stride, len(windows))
            else:
                windows, covered = [ids[:room]], min(len(ids), room)
            segments += [_Segment(index, [self._cls, *window, self._sep]) for window in windows]
            truncated.append(covered < len(ids))
        return segments, truncated

    def _score_segments(self, segments: list[_Segment], stats: BatchStats) -> list[torch.Tensor]:
        lengths = [len(segment.token_ids) for segment in segments]
        scores: list[torch.Tensor] = [torch.empty(0)] * len(segments)
        for batch in plan_micro_batches(lengths, self.settings.token_budget):
            rows = [segments[i].token_ids for i in batch]
            stats.micro_batches += 1
            stats.real_tokens += sum(len(row) for row in rows)
            stats.padded_tokens += len(rows) * len(rows[0])
            for i, row_scores in zip(batch, self._score_rows(rows), strict=True):
                scores[i] = row_scores
        return scores

    def _score_rows(self, rows: list[list[int]], retry_on_oom: bool = True) -> torch.Tensor:
        """Scores for one micro-batch; on CUDA out-of-memory, split it in two and retry once."""
        try:
            return self._forward(rows)
        except torch.cuda.OutOfMemoryError:
            if not retry_on_oom or len(rows) < 2:
                raise
            log.warning("CUDA out of memory on a micro-batch of %d rows: splitting it once", len(rows))
            torch.cuda.empty_cache()
            half = len(rows) // 2
            return torch.cat([self._score_rows(rows[:half], False), self._score_rows(rows[half:], False)])

    def _forward(self, rows: list[list[int]]) -> torch.Tensor:
        longest = len(rows[0])
        input_ids = torch.full((len(rows), longest), self._pad, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
        for r, row in enumerate(rows):
            input_ids[r, : len(row)] = torch.tensor(row, dtype=torch.long)
            attention_mask[r, : len(row)] = 1
        if self.device.type == "cuda":  # pinned host memory makes the copy asynchronous
            input_ids = input_ids.pin_memory().to(self.device, non_blocking=True)
            attention_mask = attention_mask.pin_memory().to(self.device, non_blocking=True)
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        scores = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
        return scores.cpu()

    def _per_text(
        self, segments: list[_Segment], scores: list[torch.Tensor], truncated: list[bool]
    ) -> list[TextScores]:
        """Average the window scores of each text (one window per text in truncate mode)."""
        grouped: dict[int, list[torch.Tensor]] = {}
        for segment, segment_scores in zip(segments, scores, strict=True):
            grouped.setdefault(segment.text_index, []).append(segment_scores)
        return [
            TextScores(tuple(torch.stack(grouped[i]).mean(dim=0).tolist()), truncated[i]) for i in range(len(truncated))
        ]


def _covered(total: int, room: int, overlap: int, windows: int) -> int:
    """How many of `total` tokens `windows` windows of `room` tokens overlapping by `overlap` cover."""
    return min(total, room + (windows - 1) * (room - overlap))
