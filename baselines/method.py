"""What the method files share: presets and the call into the one training loop.

A preset is a set of hyper-parameters. ``reference`` follows the challenge's reference
budget for the real models (lr 1e-5, 10 epochs, effective batch 32); ``mini`` makes the
mini track show the same qualitative behaviour in seconds on a CPU. ``unlearn()`` has
the official signature, so the preset comes from ``LUME_BASELINE_PRESET`` (set by
``lume baseline --preset``), and single values from ``LUME_BASELINE_<FIELD>``.
"""

from __future__ import annotations

import dataclasses
import os

from baselines.train import RunReport, TrainConfig, run_unlearning
from scorer.errors import LumeError

PRESET_ENV = "LUME_BASELINE_PRESET"
PRESETS = {
    "reference": {"learning_rate": 1e-5, "epochs": 10, "batch_size": 4, "gradient_accumulation": 8},
    "mini": {"learning_rate": 5e-4, "epochs": 4, "batch_size": 8, "gradient_accumulation": 1},
}


def config_for(method: str, **method_defaults) -> TrainConfig:
    """The method's config: its defaults, then the preset, then ``LUME_BASELINE_*`` values."""
    preset = os.environ.get(PRESET_ENV, "reference")
    if preset not in PRESETS:
        raise LumeError(f"{PRESET_ENV}={preset!r}: expected one of {', '.join(PRESETS)}")
    values = {**method_defaults, **PRESETS[preset]}
    for f in dataclasses.fields(TrainConfig):
        raw = os.environ.get(f"LUME_BASELINE_{f.name.upper()}")
        if raw is None or f.name == "method":
            continue
        kind = type(getattr(TrainConfig(method=method), f.name))
        try:
            values[f.name] = raw.lower() in ("1", "true", "yes") if kind is bool else kind(raw)
        except ValueError:
            raise LumeError(
                f"LUME_BASELINE_{f.name.upper()}={raw!r}: not a {kind.__name__}"
            ) from None
    return TrainConfig(method=method, **values)


def unlearn_with(method: str, model_in, model_out, forget_dir, retain_dir, **defaults) -> RunReport:
    """Run the loop; the report is returned for ``lume baseline`` (the contract ignores it)."""
    config = config_for(method, **defaults)
    return run_unlearning(config, model_in, model_out, forget_dir, retain_dir)
