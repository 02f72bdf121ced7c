"""Length-aware micro-batching: sort by token count, pack under a token budget, pad each only to its longest."""

from __future__ import annotations

from collections.abc import Sequence


def plan_micro_batches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Group indices of `lengths` into micro-batches whose padded size (rows x longest) fits `token_budget`.

    Longest first, so each micro-batch's first index is its longest. A new micro-batch also starts when the next
    sequence is shorter than half the current longest, which bounds padding at under 2 pad tokens per real one
    whatever the budget. A single sequence longer than the budget gets a micro-batch of its own. Every index
    appears exactly once. The caller restores the original order.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        if current and _fits(current, lengths, lengths[index], token_budget):
            current.append(index)
        else:
            batches.append([index])
    return batches


def _fits(batch: list[int], lengths: Sequence[int], length: int, token_budget: int) -> bool:
    longest = lengths[batch[0]]
    return (len(batch) + 1) * longest <= token_budget and 2 * length >= longest


def plan_rounds(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Group indices of `sizes` into rounds whose sizes add up to at most `limit`, smallest first.

    Used for the requests of one batch (sizes in tokens): many small requests share one round, a large one has a
    round of its own, so the work of any round is at most one admissible request's or `limit`. Every index
    appears exactly once; the caller restores the original order.
    """
    rounds: list[list[int]] = []
    total = 0
    for index in sorted(range(len(sizes)), key=lambda i: sizes[i]):
        if rounds and total + sizes[index] <= limit:
            rounds[-1].append(index)
            total += sizes[index]
        else:
            rounds.append([index])
            total = sizes[index]
    return rounds
