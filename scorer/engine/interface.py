"""The one interface the phases see: an ``Engine`` turns a phase's inputs into ``Work``.

Two engines compute the same numbers: the batched engine (:mod:`scorer.engine.batched`,
fast) and the reference engine (:mod:`scorer.engine.reference`, the official per-item loop).
The phases never ask which one they hold; the engine's ``name`` goes into every cache key,
so a result of one is never reused by the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from scorer.engine.model import LoadedModel
from scorer.engine.workplan import Work


@dataclass(frozen=True)
class ChoicePrompt:
    """An MMLU prompt, and the head it shares with its subject's other prompts (the
    header and k-shot examples; ``text`` starts with it), which an engine may run once."""

    text: str
    shared_prefix: str = ""


class Engine(Protocol):
    """What the phases ask of a model. Each method plans a phase's batches; the ``Work``'s
    ``compute`` gives one result per input, in the batch's order."""

    @property
    def name(self) -> str:
        """``"batched"`` or ``"reference"``: part of every cache key."""
        ...

    @property
    def lm(self) -> LoadedModel:
        """The model and tokenizer being scored."""
        ...

    def answer_items(self, pairs: Sequence[tuple[str, str]], max_new_tokens: int) -> Work:
        """Per ``(input, expected output)``: ``[greedy generation, mean NLL of the output
        given the input]`` (NLL ``None`` when the output has no token of its own), and a
        third entry where the engine may differ from the per-item loop: the row's smallest
        top-2 margin in precision units (:mod:`scorer.engine.margins`)."""
        ...

    def document_stats(self, texts: Sequence[str]) -> Work:
        """Per text of at least two tokens: its ``TokenStats`` (official NLL, attack stats)."""
        ...

    def choices(self, prompts: Sequence[ChoicePrompt], candidate_ids: Sequence[int]) -> Work:
        """Per prompt: the index of the candidate token with the highest next-token logit."""
        ...
