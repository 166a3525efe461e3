"""The batched engine: each phase cut into length batches under one token budget and run
with few, wide forward passes.

Items: generation and answer NLL from one prefill pass per batch
(:mod:`scorer.engine.generation`); MIA: one right-padded pass per batch; MMLU: each
subject's k-shot prefix run once per batch and its cache reused for the questions
(:mod:`scorer.engine.forward_passes`). The batches depend on the inputs and the budget
alone, never on the machine's state, so every process and every resumed run plans alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from scorer.engine.batching import (
    Cost,
    encode,
    equal_length_batches,
    generation_cost,
    length_batches,
)
from scorer.engine.forward_passes import answer_nll_batch, choose_after_prefix, token_stats_batch
from scorer.engine.generation import generate_and_score
from scorer.engine.interface import ChoicePrompt
from scorer.engine.model import LoadedModel
from scorer.engine.row_attention import Layout
from scorer.engine.workplan import Batch, Work


def answer_split(prompt: list[int], row: list[int], start: int) -> list[int] | None:
    """The answer tokens to append to ``prompt`` when the official answer-NLL row is that
    prompt followed by them; None when tokenizing ``input + output`` changed the prompt's
    tokens (a word glued across the join), and the row needs its own pass."""
    if start == len(prompt) and row[:start] == prompt:
        return row[start:]
    return None


@dataclass(frozen=True)
class BatchedEngine:
    """The fast engine; ``batch_tokens`` bounds the padded tokens of a batch (the same in
    every process of a launch, so that all plan the same batches).

    ``layout`` of the generation batches: ``padded`` (prompts of similar lengths, left
    padded, answers in the same pass); ``by row`` (padded, attention per group of equal
    length, :mod:`scorer.engine.row_attention`) and ``equal prompt length`` (no row
    padded) both give each row the per-item loop's logits bit for bit where the linear
    layers do not depend on the batch size (bf16 on CPU), and run the answers' NLL in a
    pass of their own (``benchmarks/bench_agreement.py`` measures all three)."""

    lm: LoadedModel
    batch_tokens: int
    layout: Layout = "padded"
    name: ClassVar[str] = "batched"

    @property
    def by_row(self) -> bool:
        return self.layout == "by row"

    def plan_batches(self, lengths: Sequence[int], cost: Cost, budget: int) -> tuple[Batch, ...]:
        """Length batches under ``budget``, of one length each in ``equal prompt length``."""
        group = equal_length_batches if self.layout == "equal prompt length" else length_batches
        return tuple(Batch(tuple(b)) for b in group(lengths, cost, budget))

    def budget(self, divisor: int = 1) -> int:
        """The token budget of a batch; the passes that also hold logits or a replicated
        prefix take a quarter (``divisor`` 4)."""
        return max(1, self.batch_tokens // divisor)

    def answer_items(self, pairs: Sequence[tuple[str, str]], max_new_tokens: int) -> Work:
        """Batches of similar prompt lengths; generation and answer NLL share one pass over
        each prompt, a row whose prompt retokenizes at the join gets its own NLL pass.
        Each result also holds the row's smallest top-2 precision margin (None: no step),
        which says whether the per-item loop provably chose the same tokens."""
        lm = self.lm
        prompts = encode(lm, [prompt for prompt, _ in pairs])
        rows = encode(lm, [prompt + answer for prompt, answer in pairs])
        starts = [min(len(p), len(r)) for p, r in zip(prompts, rows)]
        answers = [answer_split(p, r, n) for p, r, n in zip(prompts, rows, starts)]

        def compute(batch: Batch) -> list[list]:
            indices = batch.indices
            together = self.layout == "padded"
            texts, nlls, margins = generate_and_score(
                lm,
                [prompts[i] for i in indices],
                [answers[i] or [] if together else [] for i in indices],
                max_new_tokens,
                self.budget(4),
                by_row=self.by_row,
            )
            # exact layouts: the prompts run alone, as the per-item loop's prefill (an
            # answer after them changes the attention's shapes and so its rounding)
            apart = [k for k, i in enumerate(indices) if not together or answers[i] is None]
            if apart:
                separate = answer_nll_batch(
                    lm,
                    [rows[indices[k]] for k in apart],
                    [starts[indices[k]] for k in apart],
                    by_row=self.by_row,
                )
                for k, nll in zip(apart, separate):
                    nlls[k] = nll
            return [
                [text, nll, margin if margin != float("inf") else None]
                for text, nll, margin in zip(texts, nlls, margins)
            ]

        longest_answer = max((len(r) - n for r, n in zip(rows, starts)), default=0)
        cost = generation_cost(max(max_new_tokens, longest_answer))
        batches = self.plan_batches([len(p) for p in prompts], cost, self.budget())
        return Work(self.name, batches, compute)

    def document_stats(self, texts: Sequence[str]) -> Work:
        """Batches of similar document lengths, one left-padded pass each, laid out as the
        generation batches are: by row, of equal length, or padded (float32)."""
        rows = encode(self.lm, texts)  # whole documents, as the official loop

        def compute(batch: Batch) -> list:
            rows_of_batch = [rows[i] for i in batch.indices]
            return token_stats_batch(self.lm, rows_of_batch, by_row=self.by_row)

        batches = self.plan_batches([len(r) for r in rows], lambda n, w: n * w, self.budget(4))
        return Work(self.name, batches, compute)

    def choices(self, prompts: Sequence[ChoicePrompt], candidate_ids: Sequence[int]) -> Work:
        """Prompts grouped by their shared prefix (in order of first appearance); a batch
        runs its group's prefix once (``Batch.shared``) and each question after it. A prompt
        whose tokens do not split at the prefix's tokens is run whole."""
        tokenizer = self.lm.tokenizer
        encoded = encode(self.lm, [p.text for p in prompts])
        groups: dict[str, list[int]] = {}
        for i, prompt in enumerate(prompts):
            groups.setdefault(prompt.shared_prefix, []).append(i)
        rows: dict[int, list[int]] = {}  # what is run after the batch's prefix
        batches: list[Batch] = []
        for shared_prefix, members in groups.items():
            prefix = tokenizer(shared_prefix)["input_ids"] if shared_prefix else []
            with_prefix, whole = [], []
            for i in members:
                full = encoded[i]
                if prefix and len(prefix) < len(full) and full[: len(prefix)] == prefix:
                    rows[i] = full[len(prefix) :]
                    with_prefix.append(i)
                else:  # the tokens do not split at the prefix: run the whole prompt
                    rows[i] = full
                    whole.append(i)
            for part, head in ((with_prefix, tuple(prefix)), (whole, ())):
                cost = lambda n, w, p=len(head): n * (p + w)  # noqa: E731
                for batch in length_batches([len(rows[i]) for i in part], cost, self.budget(4)):
                    batches.append(Batch(tuple(part[j] for j in batch), head))

        def compute(batch: Batch) -> list[int]:
            suffixes = [rows[i] for i in batch.indices]
            return choose_after_prefix(self.lm, list(batch.shared), suffixes, candidate_ids)

        return Work(self.name, tuple(batches), compute)
