"""What a scoring run is asked to do: the settings that change numbers, and those that do not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EvalSettings:
    """What changes the numbers; recorded in ``scores.json``.

    ``exact`` reproduces the official per-item loop (``model.generate`` on one prompt at a
    time, one forward pass per MIA document and per MMLU prompt); ``check_exact`` re-runs
    that many random items that way and records the agreement; ``bootstrap`` is the number
    of bootstrap replicates for the 95% intervals (0: none); ``mia_k`` the Min-K% fraction.
    ``fold`` is the fold scored; ``unlearned_fold`` the fold that ``unlearn()`` was given
    (None: not known). The official protocol scores the fold that was unlearned. ``dtype``
    is for items and MIA (auto: bf16 on GPU as the official runs, fp32 on CPU);
    ``mmlu_dtype`` for MMLU (auto: the checkpoint's stored dtype, open-instruct's
    ``torch_dtype="auto"``). ``repair``: the batched engine's items whose greedy path is not
    provably the per-item loop's (a top-2 logit margin under the calibrated bound,
    :mod:`scorer.engine.margins`) are generated again by the per-item loop.
    """

    fold: str = "train"  # the public forget set: what `lume baseline` unlearns by default
    unlearned_fold: str | None = None
    max_new_tokens: int = 256
    shots: int = 5
    device: str = "auto"
    dtype: str = "auto"
    mmlu_dtype: str = "auto"  # auto: the checkpoint's stored dtype, as open-instruct loaded it
    mmlu_threshold: float | None = None
    batch_tokens: int | None = None  # None: auto, from the model and the device's memory
    exact: bool = False
    repair: bool = True
    check_exact: int = 0
    bootstrap: int = 1000
    mia_k: float = 0.2


# Settings that only change speed, never the numbers, stay out of scores.json.
SPEED_ONLY = ("batch_tokens",)
