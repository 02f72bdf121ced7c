"""Length-aware micro-batches."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_classifier.batching import plan_micro_batches, plan_rounds

pytestmark = pytest.mark.unit

LENGTHS = st.lists(st.integers(min_value=1, max_value=600), max_size=60)
BUDGETS = st.integers(min_value=1, max_value=4096)


def padded_size(batch: list[int], lengths: list[int]) -> int:
    return len(batch) * max(lengths[i] for i in batch)


@settings(max_examples=200, deadline=None)
@given(lengths=LENGTHS, budget=BUDGETS)
def test_every_index_appears_exactly_once(lengths, budget):
    batches = plan_micro_batches(lengths, budget)

    flat = [index for batch in batches for index in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(batches)  # no empty micro-batch


@settings(max_examples=200, deadline=None)
@given(lengths=LENGTHS, budget=BUDGETS)
def test_padded_size_is_within_budget_unless_a_single_item_exceeds_it(lengths, budget):
    for batch in plan_micro_batches(lengths, budget):
        if padded_size(batch, lengths) > budget:
            assert len(batch) == 1


@settings(max_examples=200, deadline=None)
@given(lengths=LENGTHS, budget=BUDGETS)
def test_a_new_micro_batch_starts_only_when_over_budget_or_much_shorter(lengths, budget):
    batches = plan_micro_batches(lengths, budget)

    for previous, current in itertools.pairwise(batches):
        over_budget = (len(previous) + 1) * lengths[previous[0]] > budget
        much_shorter = 2 * lengths[current[0]] < lengths[previous[0]]
        assert over_budget or much_shorter
        assert lengths[current[0]] <= lengths[previous[-1]]


@settings(max_examples=200, deadline=None)
@given(lengths=LENGTHS, budget=BUDGETS)
def test_every_item_is_at_least_half_its_micro_batch_longest_so_padding_stays_bounded(lengths, budget):
    for batch in plan_micro_batches(lengths, budget):
        assert all(2 * lengths[i] >= lengths[batch[0]] for i in batch)


@settings(max_examples=200, deadline=None)
@given(lengths=LENGTHS, budget=BUDGETS)
def test_items_are_sorted_longest_first_and_each_batch_starts_with_its_longest(lengths, budget):
    batches = plan_micro_batches(lengths, budget)

    in_order = [lengths[index] for batch in batches for index in batch]
    assert in_order == sorted(in_order, reverse=True)
    for batch in batches:
        assert lengths[batch[0]] == max(lengths[i] for i in batch)


def test_a_single_item_over_budget_gets_its_own_micro_batch():
    lengths = [10, 500, 10, 10]

    batches = plan_micro_batches(lengths, 100)

    assert batches[0] == [1]
    assert sorted(i for batch in batches[1:] for i in batch) == [0, 2, 3]
    assert all(padded_size(batch, lengths) <= 100 for batch in batches[1:])


def test_equal_lengths_are_packed_greedily_up_to_the_budget():
    assert [len(batch) for batch in plan_micro_batches([10] * 9, 40)] == [4, 4, 1]


def test_a_long_item_does_not_drag_short_ones_into_its_padding():
    # 512 + 8 short ones in one batch would pad 9 x 512; the short ones go into their own batch.
    lengths = [8] * 8 + [512]

    batches = plan_micro_batches(lengths, 600)

    assert batches == [[8], list(range(8))]


def test_ties_keep_the_original_order():
    assert plan_micro_batches([5, 7, 5, 7], 100) == [[1, 3, 0, 2]]


def test_no_lengths_no_micro_batches():
    assert plan_micro_batches([], 100) == []


@settings(max_examples=200, deadline=None)
@given(sizes=LENGTHS, limit=BUDGETS)
def test_rounds_hold_every_index_once_smallest_first_within_the_limit(sizes, limit):
    rounds = plan_rounds(sizes, limit)

    flat = [index for members in rounds for index in members]
    assert sorted(flat) == list(range(len(sizes)))
    assert [sizes[i] for i in flat] == sorted(sizes)  # the cheapest requests run first
    for members in rounds:
        assert len(members) == 1 or sum(sizes[i] for i in members) <= limit


def test_small_requests_share_one_round_and_a_large_one_runs_alone():
    assert plan_rounds([20, 16370, 30, 25], 16384) == [[0, 3, 2], [1]]
