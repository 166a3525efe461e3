"""When the batched greedy path is provably the per-item loop's: top-2 logit margins against
a calibrated bound on how far the two engines' logits can be apart.

Padding and batch shape change the rounding of every logit. If at every step of a row's
batched greedy path the margin between the two largest logits exceeds twice the largest
difference between the batched and the per-item logits, both engines pick the same token at
every step, so their paths (and texts) are identical. The difference grows with the dtype's
precision (``eps``) and with the logits' size, so margins and differences are measured in
units of ``eps × max |logit|`` of the row at that step. ``MEASURED`` holds the largest
difference seen in those units (``benchmarks/bench_agreement.py --calibrate``: batched
decoding against ``model.generate`` on one unpadded prompt, same token paths; so far on
one checkpoint only, see the constant); a row whose smallest margin is under
``SAFETY × 2 ×`` that bound is generated again by the per-item loop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

# Largest |batched - per-item| logit difference on the same path, in eps x max|logit|
# (48 seeded validation items of the mini track's NPO checkpoint on CPU: float32 14.3 over
# 5843 steps, no path differs; bfloat16 1.5 over 5704 steps, 2 paths differ, both at an
# exact tie; float16 not measured: bfloat16's value, in the same units).
MEASURED = {"float32": 15.0, "bfloat16": 1.5, "float16": 1.5}
SAFETY = 4.0  # margin below SAFETY x 2 x MEASURED: generated again by the per-item loop


def precision_margins(logits: torch.Tensor, eps: float) -> torch.Tensor:
    """Per row of ``logits`` (rows, vocab; fp32): the gap between its two largest values in
    units of ``eps × max |logit|`` of that row."""
    top = logits.topk(2, dim=-1).values
    scale = torch.maximum(top[:, 0].abs(), logits.min(-1).values.abs()).clamp(min=1e-30)
    return (top[:, 0] - top[:, 1]) / (eps * scale)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def repair_threshold(dtype: torch.dtype) -> float:
    """The smallest precision margin that proves agreement, with the safety factor."""
    return SAFETY * 2 * MEASURED.get(dtype_name(dtype), max(MEASURED.values()))


@dataclass(frozen=True)
class Discrepancy:
    """Batched against per-item logits along identical token paths."""

    steps: int  # steps compared (rows x steps along the common path)
    largest: float  # the largest difference, in eps x max|logit|
    largest_raw: float  # the largest absolute logit difference
    rows: int  # rows compared
    diverged: int  # rows whose paths differ


def path_discrepancy(
    batched: Sequence[torch.Tensor], reference: Sequence[torch.Tensor], eps: float
) -> tuple[int, float, float, bool]:
    """One row's per-step logits from both engines: the steps compared, the largest
    difference in precision units and raw, and whether the greedy paths differ. Steps are
    compared while the prefixes are equal (the step where the paths part still shares its
    prefix, so it is compared)."""
    steps, largest, raw = 0, 0.0, 0.0
    for b, r in zip(batched, reference):
        b, r = b.float(), r.float()
        diff = float((b - r).abs().max())
        scale = float(b.abs().max()) or 1e-30
        steps, largest, raw = steps + 1, max(largest, diff / (eps * scale)), max(raw, diff)
        if int(b.argmax()) != int(r.argmax()):
            return steps, largest, raw, True
    return steps, largest, raw, len(batched) != len(reference)
