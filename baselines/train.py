"""One accelerate training loop for every baseline: GA, GD, KL, NPO (+RT), SimNPO.

Examples are ``tokenizer(input + output)`` with the prompt's tokens masked (as the
official answer NLL), unless ``train_prompt`` asks to learn them too. Forget batches
are drawn in a seeded order; each step pairs them with retain examples that every rank
draws from its own seeded stream, so ranks never share retain samples. NPO's reference
log-probabilities of the forget set are constants: they are computed once before
training and no reference model is held; only KL keeps one (for retain batches).
Checkpoints are complete Hugging Face directories written atomically (see
``checkpoint.py``) every ``save_every`` steps, at the end, and whenever the next save
might not fit before the deadline.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator, DistributedType
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from baselines import losses
from baselines.checkpoint import SaveTimer, save_checkpoint
from scorer.contract import DEADLINE_VARIABLE, split_files
from scorer.data.lume import load_items
from scorer.data.records import Item
from scorer.errors import LumeError

METHODS = ("ga", "gd", "kl", "npo", "simnpo")


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters of one run; defaults follow the challenge's reference budget."""

    method: str
    learning_rate: float = 1e-5
    epochs: int = 10
    batch_size: int = 4
    gradient_accumulation: int = 8
    alpha: float = 1.0
    beta: float = losses.NPO_BETA
    simnpo_beta: float = 2.5
    simnpo_gamma: float = 0.0
    retain_term: bool = False  # NPO+RT
    train_prompt: bool = False
    max_length: int = 1024
    save_every: int = 0  # optimizer steps between saves; 0 = only at the end / deadline
    deadline: float | None = None  # unix time; LUME_DEADLINE is used when None
    seed: int = 0


@dataclass(frozen=True)
class Example:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


@dataclass
class RunReport:
    """What happened: steps, saves, and why the run stopped."""

    steps: int = 0
    saves: list[int] = field(default_factory=list)
    stopped_by_deadline: bool = False
    seconds: float = 0.0
    rank: int = 0
    world_size: int = 1
    retain_drawn: list[int] = field(default_factory=list)


def split_file(directory: str | Path, split: str) -> Path:
    """``DIR/<split>.parquet`` (preferred) or ``DIR/<split>.jsonl``, as the contract gives."""
    for path in split_files(directory, split):
        if path.is_file():
            return path
    raise LumeError(f"{directory}: no {split}.parquet or {split}.jsonl")


def load_split(directory: str | Path, split: str) -> list[Item]:
    items = load_items(split_file(directory, split), expected_split=split)
    if not items:
        raise LumeError(f"{directory}: the {split} set is empty")
    return items


def make_example(tokenizer, item: Item, train_prompt: bool, max_length: int) -> Example:
    """``tokenizer(input + output)``, labels on the answer tokens (and the prompt if asked)."""
    ids = tokenizer(item.input + item.output)["input_ids"][:max_length]
    prompt_len = min(len(tokenizer(item.input)["input_ids"]), len(ids) - 1)
    labels = list(ids) if train_prompt else [losses.IGNORE] * prompt_len + ids[prompt_len:]
    return Example(tuple(ids), tuple(labels))


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(e.input_ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), losses.IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        ids[row, : len(e.input_ids)] = torch.tensor(e.input_ids)
        labels[row, : len(e.labels)] = torch.tensor(e.labels)
        mask[row, : len(e.input_ids)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def _deadline(config: TrainConfig) -> float | None:
    if config.deadline is not None:
        return config.deadline
    raw = os.environ.get(DEADLINE_VARIABLE)
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise LumeError(f"{DEADLINE_VARIABLE}={raw!r}: expected a unix time in seconds") from None


def _any_rank(accelerator: Accelerator, flag: bool) -> bool:
    """The same decision on every rank (a save is collective): true if any rank says so."""
    if accelerator.num_processes == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(value, reduction="sum").item() > 0)


def _logits(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits


@torch.no_grad()
def _reference_log_probs(model, examples: list[Example], pad_id: int, device) -> torch.Tensor:
    """Sequence log-probabilities of every forget example under the starting model."""
    model.eval()
    values = []
    for start in range(0, len(examples), 8):
        batch = {k: v.to(device) for k, v in collate(examples[start : start + 8], pad_id).items()}
        values.append(losses.sequence_log_prob(_logits(model, batch), batch["labels"]).cpu())
    model.train()
    return torch.cat(values)


def _forget_term(config, model, forget, reference_log_probs) -> torch.Tensor:
    """The method's loss on one forget batch (with its indices)."""
    forget_logits = _logits(model, forget)
    if config.method in ("ga", "gd", "kl"):
        return losses.gradient_ascent(forget_logits, forget["labels"])
    log_prob = losses.sequence_log_prob(forget_logits, forget["labels"])
    if config.method == "npo":
        ref = reference_log_probs[forget["index"].cpu()].to(log_prob.device)
        return losses.npo(log_prob, ref, config.beta)
    lengths = (forget["labels"][:, 1:] != losses.IGNORE).sum(-1)
    return losses.simnpo(log_prob, lengths, config.simnpo_beta, config.simnpo_gamma)


def _retain_term(config, model, reference, retain) -> torch.Tensor | None:
    """``alpha`` × the method's retain loss (GD, NPO+RT: NLL; KL: KL to the reference)."""
    if config.method == "kl":
        with torch.no_grad():
            reference_logits = _logits(reference, retain)
        kl = losses.answer_kl(reference_logits, _logits(model, retain), retain["labels"])
        return config.alpha * kl
    if config.method == "gd" or (config.method in ("npo", "simnpo") and config.retain_term):
        return config.alpha * losses.mean_nll(_logits(model, retain), retain["labels"])
    return None


def _backward(accelerator: Accelerator, terms) -> None:
    """Back-propagate the sum of ``terms`` (callables giving a loss or None).

    The gradient of a sum is the sum of the gradients, so each term gets its own
    backward pass and only one batch's activations are alive at a time: a method with a
    retain term peaks at GA's memory instead of twice it. DeepSpeed steps its optimizer
    inside ``backward``, so there the terms are summed and back-propagated once.
    """
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        values = [t for t in (term() for term in terms) if t is not None]
        accelerator.backward(sum(values[1:], values[0]))
        return
    for term in terms:
        value = term()
        if value is not None:
            accelerator.backward(value)
            del value


def run_unlearning(
    config: TrainConfig,
    model_dir: str | Path,
    output_dir: str | Path,
    forget_dir: str | Path,
    retain_dir: str | Path,
) -> RunReport:
    """Unlearn ``forget_dir`` from ``model_dir`` and leave a checkpoint in ``output_dir``."""
    if config.method not in METHODS:
        raise LumeError(f"method {config.method!r}: expected one of {', '.join(METHODS)}")
    started = time.time()
    deadline = _deadline(config)
    forget_items, retain_items = load_split(forget_dir, "forget"), load_split(retain_dir, "retain")
    output_dir = Path(output_dir)
    try:  # saves happen inside the directory: only it must be writable, not its parent
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LumeError(f"{output_dir}: cannot create the output directory: {err}") from err
    if not os.access(output_dir, os.W_OK):
        raise LumeError(f"{output_dir}: not writable")

    hf_logging.disable_progress_bar()
    accelerator = Accelerator(
        cpu=not torch.cuda.is_available(),  # without it, torchrun's CPU ranks stay apart
        gradient_accumulation_steps=config.gradient_accumulation,
        mixed_precision="bf16" if torch.cuda.is_available() else "no",
    )
    torch.manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    forget = [
        make_example(tokenizer, i, config.train_prompt, config.max_length) for i in forget_items
    ]
    retain = [
        make_example(tokenizer, i, config.train_prompt, config.max_length) for i in retain_items
    ]
    pad = tokenizer.pad_token_id

    reference = None
    if config.method == "kl":
        reference = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        reference.to(accelerator.device).eval().requires_grad_(False)
    reference_log_probs = (
        _reference_log_probs(model.to(accelerator.device), forget, pad, accelerator.device)
        if config.method == "npo"
        else None
    )

    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate)
    model, optimizer = accelerator.prepare(model, optimizer)
    rank, world = accelerator.process_index, accelerator.num_processes
    order_rng = random.Random(config.seed)
    retain_rng = random.Random(config.seed * 7919 + 1 + rank)  # each rank its own stream
    timer = SaveTimer()
    report = RunReport(rank=rank, world_size=world)

    def save() -> None:
        accelerator.wait_for_everyone()
        with timer:
            state = accelerator.get_state_dict(model)  # collective: gathers sharded parameters
            if accelerator.is_main_process:
                save_checkpoint(accelerator.unwrap_model(model), model_dir, output_dir, state)
        report.saves.append(report.steps)
        accelerator.wait_for_everyone()

    steps_per_epoch = math.ceil(len(forget) / (config.batch_size * world))
    step_seconds = 0.0
    model.train()
    for _epoch in range(config.epochs):
        order = list(range(len(forget)))
        order_rng.shuffle(order)
        mine = order[rank::world]
        for start in range(0, steps_per_epoch * config.batch_size, config.batch_size):
            indices = mine[start : start + config.batch_size] or mine[: config.batch_size]
            forget_batch = collate([forget[i] for i in indices], pad)
            forget_batch["index"] = torch.tensor(indices)
            retain_idx = [retain_rng.randrange(len(retain)) for _ in indices]
            report.retain_drawn += retain_idx
            retain_batch = collate([retain[i] for i in retain_idx], pad)
            forget_batch = {k: v.to(accelerator.device) for k, v in forget_batch.items()}
            retain_batch = {k: v.to(accelerator.device) for k, v in retain_batch.items()}
            tick = time.time()
            with accelerator.accumulate(model):
                _backward(
                    accelerator,
                    (
                        partial(_forget_term, config, model, forget_batch, reference_log_probs),
                        partial(_retain_term, config, model, reference, retain_batch),
                    ),
                )
                optimizer.step()
                optimizer.zero_grad()
            if accelerator.sync_gradients:
                report.steps += 1
                if config.save_every and report.steps % config.save_every == 0:
                    save()
            step_seconds = max(step_seconds, time.time() - tick)
            if deadline is not None and _any_rank(
                accelerator, timer.must_save_now(deadline, step_seconds)
            ):
                save()
                report.stopped_by_deadline = True
                report.seconds = time.time() - started
                return report
    save()
    report.seconds = time.time() - started
    return report
