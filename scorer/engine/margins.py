"""When the batched greedy path is provably the per-item loop's: top-2 logit margins against
a calibrated bound on how far the two engines' logits can be apart.

At a step where the batched engine picks token ``a`` with a lead of ``g`` over the runner-up,
the per-item loop picks ``a`` too when ``g`` exceeds the largest drop of ``a``'s lead over any
other token between the engines, ``max_c (d_a - d_c)`` with ``d = batched - per-item``
(:func:`lead_drop`). If that holds at every step of a row, both engines follow the same
path and write the same text. Margins and drops are measured in units of
``eps × max |logit|`` of the row at that step, since rounding grows with the dtype's
precision and the logits' size.

``MEASURED`` holds the largest drop seen, per dtype, for the batching the engine uses in
that dtype (``benchmarks/bench_agreement.py --calibrate``: the batched loop's logits
against ``model.generate``'s on one unpadded prompt, along identical paths, on CPU). A row
whose smallest margin is under ``SAFETY ×`` that bound is generated again by the per-item
loop. The bound is a measurement of one machine's kernels, so the repair also probes it on
every run (:func:`probe_rows`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# Largest lead drop (eps x max|logit|) between the batched loop and the per-item loop on
# identical paths, CPU (torch 2.13), validation items of six checkpoints (the mini target,
# its GA, GD, KL and NPO, and NPO of a target trained on the public validation fold;
# benchmarks/bench_agreement.py --calibrate; docs/engine.md has the counts). bfloat16, batches
# attended by row (or of equal prompt length, where the self-check of
# scorer.engine.row_attention fails): all 114,224 steps equal bit for bit (bf16 matmuls on
# CPU do not depend on the batch size, and no row's attention sees padding), so no margin is
# in doubt. float32, padded batches: 51.44 (GD) over 113,252 steps, none bit-equal.
MEASURED = {"float32": 51.5, "bfloat16": 0.0}
# Where nothing was calibrated (float16; another device): the padded bf16 bound x 2 (1.5
# units on the NPO checkpoint), a cautious guess; float32 keeps its CPU bound. float16 by
# row on CPU is not bit-exact (the self-check's pair passes, yet 24,765 of 25,293 sampled
# steps are equal: --calibrate --dtype float16 --limit 40 over the six checkpoints), its
# largest lead drop 1.43 units, under this cautious 3.
UNMEASURED = {"float32": MEASURED["float32"], "bfloat16": 3.0, "float16": 3.0}
SAFETY = 2.0  # margin below SAFETY x MEASURED: generated again by the per-item loop
PROBES = 2  # rows of smallest margin regenerated on every run to test the bound


def precision_margins(logits: torch.Tensor, eps: float) -> torch.Tensor:
    """Per row of ``logits`` (rows, vocab; fp32): the gap between its two largest values in
    units of ``eps × max |logit|`` of that row."""
    top = logits.topk(2, dim=-1).values
    scale = torch.maximum(top[:, 0].abs(), logits.min(-1).values.abs()).clamp(min=1e-30)
    return (top[:, 0] - top[:, 1]) / (eps * scale)


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def calibrated(dtype: torch.dtype, device_type: str) -> bool:
    return device_type == "cpu" and dtype_name(dtype) in MEASURED


def repair_threshold(dtype: torch.dtype, device_type: str = "cpu") -> float:
    """The smallest precision margin that proves agreement, with the safety factor: the
    measured bound on CPU, the cautious one elsewhere."""
    name = dtype_name(dtype)
    table = MEASURED if calibrated(dtype, device_type) else UNMEASURED
    return SAFETY * table.get(name, max(UNMEASURED.values()))


def doubtful_rows(margins: Sequence[float | None], threshold: float) -> list[int]:
    """Rows whose smallest margin is under ``threshold`` (None: the row ran no step)."""
    return [i for i, m in enumerate(margins) if m is not None and m < threshold]


def probe_rows(margins: Sequence[float | None], skip: Sequence[int], count: int) -> list[int]:
    """The ``count`` rows nearest a tie that the threshold lets through: if the bound does
    not hold on this machine, these are the rows that flip first."""
    left = set(skip)
    ranked = sorted((m, i) for i, m in enumerate(margins) if m is not None and i not in left)
    return sorted(i for _, i in ranked[:count])


def lead_drop(batched: torch.Tensor, reference: torch.Tensor) -> float:
    """How much the batched argmax's lead over any other token shrinks in the reference
    logits: ``max_c (d_a - d_c)``, ``d = batched - reference`` (0 when equal)."""
    d = batched.float() - reference.float()
    return float(d[int(batched.argmax())] - d.min())


def path_discrepancy(
    batched: Sequence[torch.Tensor], reference: Sequence[torch.Tensor], eps: float
) -> tuple[int, float, float, bool]:
    """One row's per-step logits from both engines: the steps compared, the largest lead
    drop in precision units, the largest absolute logit difference, and whether the greedy
    paths differ. Steps are compared while the prefixes are equal (the step where the paths
    part still shares its prefix, so it is compared)."""
    steps, largest, raw = 0, 0.0, 0.0
    for b, r in zip(batched, reference):
        b, r = b.float(), r.float()
        scale = float(b.abs().max()) or 1e-30
        drop = lead_drop(b, r) / (eps * scale)
        raw = max(raw, float((b - r).abs().max()))
        steps, largest = steps + 1, max(largest, drop)
        if int(b.argmax()) != int(r.argmax()):
            return steps, largest, raw, True
    return steps, largest, raw, len(batched) != len(reference)
