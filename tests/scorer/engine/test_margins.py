"""Top-2 margins in precision units, the repair threshold, and the path comparison that
calibrates it."""

from __future__ import annotations

import pytest
import torch

from scorer.engine.margins import (
    MEASURED,
    SAFETY,
    path_discrepancy,
    precision_margins,
    repair_threshold,
)
from scorer.engine.model import stored_dtype
from scorer.errors import ModelError


def test_margins_are_the_top_two_gap_in_eps_times_the_largest_logit():
    logits = torch.tensor([[4.0, 3.5, -8.0], [1.0, 1.0, 0.0]])
    assert precision_margins(logits, 0.01).tolist() == pytest.approx([0.5 / (0.01 * 8), 0.0])


def test_the_threshold_is_twice_the_measured_difference_with_the_safety_factor():
    assert repair_threshold(torch.bfloat16) == SAFETY * 2 * MEASURED["bfloat16"]
    assert repair_threshold(torch.float32) == SAFETY * 2 * MEASURED["float32"]


def test_paths_are_compared_up_to_and_including_the_step_where_they_part():
    a = [torch.tensor([2.0, 1.0]), torch.tensor([1.0, 3.0]), torch.tensor([9.0, 0.0])]
    b = [torch.tensor([2.0, 1.5]), torch.tensor([3.5, 3.0]), torch.tensor([0.0, 99.0])]
    steps, largest, raw, parted = path_discrepancy(a, b, 0.5)
    assert (steps, parted, raw) == (2, True, 2.5)  # the third step is past the parting
    assert largest == pytest.approx(2.5 / (0.5 * 3.0))
    assert path_discrepancy(a[:2], a[:2], 0.5)[1:] == (0.0, 0.0, False)


def test_the_stored_dtype_is_what_torch_dtype_auto_loads():
    assert stored_dtype({"dtype": "bfloat16"}, "m") == "bfloat16"
    assert stored_dtype({"torch_dtype": "float16"}, "m") == "float16"
    assert stored_dtype({}, "m") == "float32"
    with pytest.raises(ModelError, match="m/config.json: field 'dtype' is 'int8'"):
        stored_dtype({"dtype": "int8"}, "m")
