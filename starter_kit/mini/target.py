"""Train a tiny OLMo-architecture model until it has memorized a LUME-format corpus.

The target sees what the real fine-tuned OLMo saw — every document, and every question
followed by its answer — plus the utility world (fact statements and multiple-choice
questions in the open-instruct MMLU format, with 0..5 random shots so that the scorer's
5-shot prompts are in distribution). Examples are never packed together: each starts at
position 0, exactly as the scorer's prompts do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from transformers import OlmoConfig, OlmoForCausalLM, PreTrainedTokenizerFast

from baselines.examples import collate
from baselines.losses import IGNORE
from scorer.official.mmlu_prompt import CHOICE_LETTERS, format_question, mmlu_prompt


@dataclass(frozen=True)
class TargetConfig:
    """Size of the tiny target and how long it trains (defaults: memorizes the mini world)."""

    hidden_size: int = 128
    num_layers: int = 3
    num_heads: int = 4
    intermediate_size: int = 512
    max_positions: int = 1024
    epochs: int = 80
    learning_rate: float = 1.5e-3
    batch_tokens: int = 1024
    warmup_fraction: float = 0.05
    warm_epochs: int = 10
    skip_below_loss: float = 0.05
    revisit_every: int = 5
    seed: int = 0


@dataclass(frozen=True)
class TextExample:
    """A training text, the character spans whose tokens carry the loss, and its kind.

    Batches never mix kinds: a batch's loss is the mean over its learned tokens, and a
    multiple-choice letter batched beside whole documents would weigh next to nothing.
    """

    text: str
    loss_spans: tuple[tuple[int, int], ...]
    kind: str
    end_with_eos: bool = True


@dataclass(frozen=True)
class TokenExample:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    kind: str


def document_example(text: str) -> TextExample:
    """A whole document: every token and the final EOS are learned."""
    return TextExample(text, ((0, len(text)),), "document")


def answer_example(prompt: str, answer: str) -> TextExample:
    """``prompt + answer`` with the loss on the answer and EOS only (as the scorer concatenates)."""
    return TextExample(prompt + answer, ((len(prompt), len(prompt) + len(answer)),), "answer")


def multiple_choice_example(subject: str, shots: Sequence, question) -> TextExample:
    """An MMLU-format prompt with ``shots``; the loss is on every answer letter."""
    prompt = mmlu_prompt(subject, shots, question)
    text = prompt + " " + CHOICE_LETTERS[question.answer]
    spans = []
    cursor = 0
    for shot in shots:  # each shot's answer letter follows its own "Answer:"
        block = format_question(shot, with_answer=True)
        start = text.index(block, cursor) + len(block) - len(" X\n\n")
        spans.append((start, start + 2))
        cursor = start
    spans.append((len(prompt), len(text)))
    return TextExample(text, tuple(spans), "choice", end_with_eos=False)


def tokenize_example(tokenizer: PreTrainedTokenizerFast, example: TextExample) -> TokenExample:
    """Token ids and labels: a token is learned when it starts inside a loss span."""
    enc = tokenizer(example.text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    labels = [
        tok if any(lo <= start < hi for lo, hi in example.loss_spans) else IGNORE
        for tok, (start, _end) in zip(ids, enc["offset_mapping"])
    ]
    if example.end_with_eos:
        ids.append(tokenizer.eos_token_id)
        labels.append(tokenizer.eos_token_id)
    return TokenExample(tuple(ids), tuple(labels), example.kind)


def build_model(config: TargetConfig, tokenizer: PreTrainedTokenizerFast) -> OlmoForCausalLM:
    torch.manual_seed(config.seed)
    olmo = OlmoConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_positions,
        pad_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    return OlmoForCausalLM(olmo)


def _batches(examples: Sequence[TokenExample], batch_tokens: int, rng: random.Random):
    """Length-sorted batches of one kind under a token budget, in a seeded random order."""
    order = sorted(
        range(len(examples)), key=lambda i: (examples[i].kind, len(examples[i].input_ids), i)
    )
    batches, current, longest = [], [], 0
    for i in order:
        length = len(examples[i].input_ids)
        full = max(longest, length) * (len(current) + 1) > batch_tokens
        if current and (full or examples[current[0]].kind != examples[i].kind):
            batches.append(current)
            current, longest = [], 0
        current.append(i)
        longest = max(longest, length)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def _row_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean next-token loss of each row over its learned tokens, and their counts."""
    targets = labels[:, 1:]
    token_loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), targets, ignore_index=IGNORE, reduction="none"
    )
    counts = (targets != IGNORE).sum(-1).clamp(min=1)
    return token_loss.sum(-1) / counts, counts


def train_target(
    model: OlmoForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    epoch_examples: Callable[[int], Sequence[TextExample]],
    config: TargetConfig,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train for ``config.epochs``; ``epoch_examples(epoch)`` may vary (random shots).

    After ``warm_epochs``, an example whose last loss fell below ``skip_below_loss`` is
    only revisited every ``revisit_every`` epochs: the minutes go to what is not yet
    memorized. Returns each epoch's mean loss. Deterministic for a fixed seed.
    """
    rng = random.Random(config.seed)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, betas=(0.9, 0.98), weight_decay=0.0
    )
    warmup = config.warmup_fraction * config.epochs

    def learning_rate(progress: float) -> float:  # progress in epochs
        if progress < warmup:
            return config.learning_rate * (progress + 1e-3) / warmup
        done = (progress - warmup) / max(1e-9, config.epochs - warmup)
        return config.learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done)))

    last_loss: dict[TextExample, float] = {}
    model.train()
    losses = []
    for epoch in range(config.epochs):
        texts = [
            ex
            for ex in epoch_examples(epoch)
            if epoch < config.warm_epochs
            or epoch % config.revisit_every == 0
            or last_loss.get(ex, math.inf) >= config.skip_below_loss
        ]
        examples = [tokenize_example(tokenizer, ex) for ex in texts]
        plan = _batches(examples, config.batch_tokens, rng)
        total = 0.0
        for step, batch_ids in enumerate(plan):
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(epoch + step / len(plan))
            batch = collate([examples[i] for i in batch_ids], tokenizer.eos_token_id)
            logits = model(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).logits
            rows, counts = _row_losses(logits, batch["labels"])
            loss = (rows * counts).sum() / counts.sum()  # the mean over learned tokens
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            for i, value in zip(batch_ids, rows.tolist()):
                last_loss[texts[i]] = value
            total += loss.item()
        losses.append(total / max(1, len(plan)))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1], len(texts))
    model.eval()
    return losses
