"""A baseline run's hyper-parameters: TrainConfig, the presets and their environment overrides.

A preset is a set of hyper-parameters. ``reference`` follows the challenge's reference
budget for the real models (lr 1e-5, 10 epochs, effective batch 32); ``mini`` makes the
mini track show the same qualitative behaviour in seconds on a CPU. ``unlearn()`` has
the official signature, so the preset comes from ``LUME_BASELINE_PRESET`` (set by
``lume baseline --preset``), and single values from ``LUME_BASELINE_<FIELD>``, each read
as its TrainConfig field's type. Imports neither torch nor transformers.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass

from baselines.methods import NPO_BETA, RETAIN_WEIGHT, SIMNPO_BETA, SIMNPO_GAMMA, method_named
from scorer.errors import LumeError

PRESET_ENV = "LUME_BASELINE_PRESET"
FIELD_ENV_PREFIX = "LUME_BASELINE_"
PRESETS: dict[str, dict[str, float | int]] = {
    "reference": {"learning_rate": 1e-5, "epochs": 10, "batch_size": 4, "gradient_accumulation": 8},
    "mini": {"learning_rate": 5e-4, "epochs": 4, "batch_size": 8, "gradient_accumulation": 1},
}
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run; defaults follow the challenge's reference budget."""

    method: str
    learning_rate: float = 1e-5
    epochs: int = 10
    batch_size: int = 4
    gradient_accumulation: int = 8
    alpha: float = RETAIN_WEIGHT
    beta: float = NPO_BETA
    simnpo_beta: float = SIMNPO_BETA
    simnpo_gamma: float = SIMNPO_GAMMA
    retain_term: bool = False  # NPO+RT, SimNPO+RT
    train_prompt: bool = False
    max_length: int = 1024
    save_every: int = 0  # optimizer steps between saves; 0 = only at the end / deadline
    deadline: float | None = None  # unix time; LUME_DEADLINE is used when None
    seed: int = 0


def config_for(method: str, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """The method's config: its defaults, then the preset, then ``LUME_BASELINE_*`` values."""
    environ = os.environ if environ is None else environ
    defaults = method_named(method).defaults
    preset = environ.get(PRESET_ENV, "reference")
    if preset not in PRESETS:
        raise LumeError(f"{PRESET_ENV}={preset!r}: expected one of {', '.join(PRESETS)}")
    values = {**defaults, **PRESETS[preset], **environment_overrides(environ)}
    return TrainConfig(method=method, **values)


def environment_overrides(environ: Mapping[str, str]) -> dict[str, object]:
    """TrainConfig fields set by ``LUME_BASELINE_<FIELD>`` (``method`` comes from the file)."""
    types = typing.get_type_hints(TrainConfig)
    values: dict[str, object] = {}
    for f in dataclasses.fields(TrainConfig):
        variable = FIELD_ENV_PREFIX + f.name.upper()
        raw = environ.get(variable)
        if raw is not None and f.name != "method":
            values[f.name] = parse_value(variable, raw, types[f.name])
    return values


def parse_value(variable: str, raw: str, annotation: object) -> object:
    """``raw`` as ``annotation`` (bool, int, float, or one of them ``| None``).

    Why by annotation: a field whose default is None (the deadline) has no value to
    take a type from. A value that does not parse is a one-line LumeError naming it.
    """
    options = typing.get_args(annotation) or (annotation,)
    optional = type(None) in options
    (kind,) = [k for k in options if k is not type(None)]
    text = raw.strip()
    if optional and text.lower() in ("", "none"):
        return None
    expected = {bool: "1/0, true/false, yes/no or on/off", int: "an integer", float: "a number"}
    try:
        if kind is bool:
            if text.lower() not in TRUE_WORDS + FALSE_WORDS:
                raise ValueError(text)
            return text.lower() in TRUE_WORDS
        if kind is int:
            return int(text)
        if kind is float:
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
    except ValueError:
        or_none = " or none" if optional else ""
        raise LumeError(f"{variable}={raw!r}: expected {expected[kind]}{or_none}") from None
    raise TypeError(f"{variable}: no parser for {annotation!r}")
