"""Top-2 margins in precision units, the repair threshold, and the path comparison that
calibrates it."""

from __future__ import annotations

import pytest
import torch

from scorer.engine.margins import (
    MEASURED,
    SAFETY,
    UNMEASURED,
    doubtful_rows,
    lead_drop,
    path_discrepancy,
    precision_margins,
    probe_rows,
    repair_threshold,
)
from scorer.engine.model import stored_dtype
from scorer.errors import ModelError


def test_margins_are_the_top_two_gap_in_eps_times_the_largest_logit():
    logits = torch.tensor([[4.0, 3.5, -8.0], [1.0, 1.0, 0.0]])
    assert precision_margins(logits, 0.01).tolist() == pytest.approx([0.5 / (0.01 * 8), 0.0])


def test_the_threshold_is_the_measured_bound_on_cpu_and_the_cautious_one_elsewhere():
    assert repair_threshold(torch.bfloat16, "cpu") == SAFETY * MEASURED["bfloat16"]
    assert repair_threshold(torch.float32, "cpu") == SAFETY * MEASURED["float32"]
    assert repair_threshold(torch.bfloat16, "cuda") == SAFETY * UNMEASURED["bfloat16"] > 0
    assert repair_threshold(torch.float16, "cpu") == SAFETY * UNMEASURED["float16"] > 0


def test_a_row_is_doubtful_when_its_smallest_margin_is_under_the_threshold():
    margins = [0.0, 5.0, None, 4.999, 4.0]
    assert doubtful_rows(margins, 5.0) == [0, 3, 4]
    assert doubtful_rows(margins, 0.0) == []  # a bit-exact engine: even exact ties agree
    # the probes are the rows nearest a tie that the threshold lets through
    assert probe_rows(margins, [0, 3, 4], 2) == [1]
    assert probe_rows(margins, [], 2) == [0, 4]
    assert probe_rows([7.0, 3.0, 9.0, 1.0], [], 2) == [1, 3]


def test_the_lead_drop_is_what_decides_a_flip():
    batched = torch.tensor([5.0, 4.0, 1.0])
    # the leader rose and the others did not: its lead grew, no drop
    assert lead_drop(batched, torch.tensor([5.25, 4.0, 0.5])) == 0.0
    # the leader fell by 0.25 and a third token rose by 0.5: its lead over it shrank 0.75
    assert lead_drop(batched, torch.tensor([4.75, 4.0, 1.5])) == pytest.approx(0.75)
    assert lead_drop(batched, batched.clone()) == 0.0
    # a flip needs a drop at least the margin: margin 1, drop 1.25 -> the reference picks 1
    reference = torch.tensor([4.5, 4.75, 1.0])
    assert lead_drop(batched, reference) == pytest.approx(1.25) and int(reference.argmax()) == 1


def test_paths_are_compared_up_to_and_including_the_step_where_they_part():
    a = [torch.tensor([2.0, 1.0]), torch.tensor([1.0, 3.0]), torch.tensor([9.0, 0.0])]
    b = [torch.tensor([2.0, 1.5]), torch.tensor([3.5, 3.0]), torch.tensor([0.0, 99.0])]
    steps, largest, raw, parted = path_discrepancy(a, b, 0.5)
    assert (steps, parted, raw) == (2, True, 2.5)  # the third step is past the parting
    # step 2: the leader (token 1) lost 2.5 against token 0: its lead drop, in 0.5 x 3
    assert largest == pytest.approx(2.5 / (0.5 * 3.0))
    assert path_discrepancy(a[:2], a[:2], 0.5)[1:] == (0.0, 0.0, False)


def test_the_stored_dtype_is_what_torch_dtype_auto_loads():
    assert stored_dtype({"dtype": "bfloat16"}, "m") == "bfloat16"
    assert stored_dtype({"torch_dtype": "float16"}, "m") == "float16"
    assert stored_dtype({}, "m") == "float32"
    with pytest.raises(ModelError, match="m/config.json: field 'dtype' is 'int8'"):
        stored_dtype({"dtype": "int8"}, "m")
