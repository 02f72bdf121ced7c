"""Length-aware micro-batching: sort by token count, pack under a token budget, pad each only to its longest."""

from __future__ import annotations

from collections.abc import Sequence


def plan_micro_batches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Group indices of `lengths` into micro-batches whose padded size (rows x longest) fits `token_budget`.

    Longest first, so each micro-batch's first index is its longest; a single sequence longer than the budget
    gets a micro-batch of its own. Every index appears exactly once. The caller restores the original order.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        if current and (len(current) + 1) * lengths[current[0]] <= token_budget:
            current.append(index)
        else:
            batches.append([index])
    return batches


def split_into_windows(token_ids: Sequence[int], window: int, overlap: int, max_windows: int) -> list[list[int]]:
    """Cut a text's tokens (without special tokens) into windows of at most `window` tokens that overlap by
    `overlap` tokens, at most `max_windows` of them. Always at least one window (possibly empty)."""
    step = window - overlap
    starts = range(0, max(len(token_ids) - overlap, 1), step)
    return [list(token_ids[start : start + window]) for start in starts][:max_windows]
