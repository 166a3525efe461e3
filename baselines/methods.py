"""The table of unlearning methods: name -> loss terms, what they need, default hyper-parameters.

Adding a method is adding a row here (its terms in ``baselines/terms.py`` and a thin
submission file ``baselines/<name>.py``); the training loop, ``lume baseline`` and the
CLI's help read this table and nothing else. The module imports neither torch nor
transformers: a row names its terms, and :meth:`Method.forget_loss` and
:meth:`Method.retain_loss` resolve them from ``baselines.terms`` only when training.
"""

from __future__ import annotations

import enum
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from scorer.errors import LumeError

# Hyper-parameter values that TrainConfig's defaults and the table's rows share.
NPO_BETA = 0.1  # Zhang et al., 2024
SIMNPO_BETA = 2.5  # SimNPO's beta (Fan et al., 2024)
SIMNPO_GAMMA = 0.0  # SimNPO's reward margin
RETAIN_WEIGHT = 1.0  # alpha: the retain term's weight

TERMS_MODULE = "baselines.terms"


class Needs(enum.Enum):
    """What a method needs beyond the model it trains (each costs memory or time)."""

    NOTHING = "nothing"
    FORGET_LOG_PROBS = "the starting model's log-probabilities of the forget set"
    REFERENCE_MODEL = "a frozen copy of the starting model"


@dataclass(frozen=True)
class Method:
    """One unlearning method: its loss terms by name, its needs and its defaults."""

    name: str
    summary: str
    forget_term: str  # a function of baselines.terms: (config, model, batch, references)
    retain_term: str | None = None  # likewise; None: the method has no retain term
    retain_optional: bool = False  # True: the retain term runs only if config.retain_term
    needs: Needs = Needs.NOTHING
    defaults: Mapping[str, float | bool] = field(default_factory=dict)  # TrainConfig fields

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def uses_retain_term(self, retain_term_switch: bool) -> bool:
        """Whether a run has a retain term: always, never, or as ``config.retain_term`` says."""
        if self.retain_term is None:
            return False
        return retain_term_switch or not self.retain_optional

    def forget_loss(self) -> Callable:
        """The forget term's function (imports torch: call it only to train)."""
        return getattr(importlib.import_module(TERMS_MODULE), self.forget_term)

    def retain_loss(self) -> Callable | None:
        """The retain term's function, or None when the method has none."""
        if self.retain_term is None:
            return None
        return getattr(importlib.import_module(TERMS_MODULE), self.retain_term)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            name="ga",
            summary="gradient ascent: raise the forget answers' NLL",
            forget_term="gradient_ascent",
        ),
        Method(
            name="gd",
            summary="gradient difference: GA plus alpha x the retain NLL",
            forget_term="gradient_ascent",
            retain_term="retain_nll",
            defaults={"alpha": RETAIN_WEIGHT},
        ),
        Method(
            name="kl",
            summary="KL-regularised ascent: GA plus alpha x KL to the starting model on retain",
            forget_term="gradient_ascent",
            retain_term="retain_kl",
            needs=Needs.REFERENCE_MODEL,
            defaults={"alpha": RETAIN_WEIGHT},
        ),
        Method(
            name="npo",
            summary=f"negative preference optimisation (beta {NPO_BETA}) plus the retain NLL",
            forget_term="npo",
            retain_term="retain_nll",
            retain_optional=True,
            needs=Needs.FORGET_LOG_PROBS,
            defaults={"beta": NPO_BETA, "retain_term": True, "alpha": RETAIN_WEIGHT},
        ),
        Method(
            name="simnpo",
            summary="simple NPO: reference-free, length-normalised NPO plus the retain NLL",
            forget_term="simnpo",
            retain_term="retain_nll",
            retain_optional=True,
            defaults={
                "simnpo_beta": SIMNPO_BETA,
                "simnpo_gamma": SIMNPO_GAMMA,
                "retain_term": True,
                "alpha": RETAIN_WEIGHT,
            },
        ),
    )
}


def method_named(name: str) -> Method:
    """The row of ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in METHODS:
        raise LumeError(f"method {name!r}: expected one of {', '.join(METHODS)}")
    return METHODS[name]
