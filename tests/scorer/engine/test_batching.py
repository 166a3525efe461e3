"""Length batching and padding: what the batched engine's batches look like."""

from __future__ import annotations

import torch

from scorer.engine.batching import (
    generation_cost,
    left_positions,
    length_batches,
    padded,
)


def test_batches_are_longest_first_and_within_the_budget():
    lengths = [3, 9, 5, 9, 1, 4]
    cost = lambda n, longest: n * longest  # noqa: E731
    batches = list(length_batches(lengths, cost, 19))
    assert [i for b in batches for i in b] == [1, 3, 2, 5, 0, 4]  # ties keep input order
    assert batches == [[1, 3], [2, 5, 0], [4]]
    for batch in batches:
        assert cost(len(batch), lengths[batch[0]]) <= 19


def test_an_input_over_the_budget_still_gets_its_own_batch():
    assert list(length_batches([50, 2], lambda n, w: n * w, 10)) == [[0], [1]]
    assert list(length_batches([4, 4, 4], lambda n, w: n * w, 0)) == [[0], [1], [2]]
    assert list(length_batches([], lambda n, w: n * w, 10)) == []


def test_generation_cost_counts_the_new_tokens_of_every_row():
    assert generation_cost(16)(3, 10) == 3 * (10 + 16)


def test_padding_left_right_and_to_own_ends():
    rows = [[5, 6, 7], [8]]
    ids, mask = padded(rows, 0, torch.device("cpu"), left=True)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]
    assert left_positions(mask).tolist() == [[0, 1, 2], [0, 0, 0]]
    ids, mask = padded(rows, 0, torch.device("cpu"), left=False)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ids, mask = padded(rows, 9, torch.device("cpu"), left=True, ends=[3, 2])
    assert ids.tolist() == [[5, 6, 7], [9, 8, 9]]
    assert mask.tolist() == [[1, 1, 1], [0, 1, 0]]
