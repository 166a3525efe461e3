"""The one accelerate training loop of every baseline; the method table says what it computes.

Forget batches are drawn in a seeded order; each step pairs them with retain examples
that every rank draws from its own seeded stream, so ranks never share retain samples.
The method's row in ``methods.METHODS`` names its forget and retain terms and what they
need from the starting model (prepared once, see ``terms.py``); nothing here depends on
a method's name. Checkpoints are complete Hugging Face directories written atomically
(see ``checkpoint.py``) every ``save_every`` steps, at the end, and whenever the next
save might not fit before the deadline (``TrainConfig.deadline`` or ``LUME_DEADLINE``).
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import torch
from accelerate import Accelerator, DistributedType
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from baselines.checkpoint import SaveTimer, save_checkpoint
from baselines.examples import collate, load_split, make_example
from baselines.methods import method_named
from baselines.presets import TrainConfig, config_for
from baselines.terms import prepare_references
from scorer.contract import DEADLINE_VARIABLE
from scorer.errors import LumeError


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


def deadline_of(config: TrainConfig) -> float | None:
    """The config's deadline, else ``LUME_DEADLINE`` (unix seconds), else none."""
    if config.deadline is not None:
        return config.deadline
    raw = os.environ.get(DEADLINE_VARIABLE)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise LumeError(f"{DEADLINE_VARIABLE}={raw!r}: expected a unix time in seconds")
    return value


def _any_rank(accelerator: Accelerator, flag: bool) -> bool:
    """The same decision on every rank (a save is collective): true if any rank says so."""
    if accelerator.num_processes == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=accelerator.device)
    return bool(accelerator.reduce(value, reduction="sum").item() > 0)


def backward_each(accelerator: Accelerator, terms: Sequence[Callable[[], torch.Tensor]]) -> None:
    """Back-propagate the sum of ``terms`` (callables giving a loss).

    The gradient of a sum is the sum of the gradients, so each term gets its own
    backward pass and only one batch's activations are alive at a time: a method with a
    retain term peaks at GA's memory instead of twice it. DeepSpeed steps its optimizer
    inside ``backward``, so there the terms are summed and back-propagated once.
    """
    if accelerator.distributed_type == DistributedType.DEEPSPEED:
        values = [term() for term in terms]
        accelerator.backward(sum(values[1:], values[0]))
        return
    for term in terms:
        value = term()
        accelerator.backward(value)
        del value


def _writable_output(output_dir: str | Path) -> Path:
    """Create the output directory; saves happen inside it, so only it must be writable."""
    output_dir = Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LumeError(f"{output_dir}: cannot create the output directory: {err}") from err
    if not os.access(output_dir, os.W_OK):
        raise LumeError(f"{output_dir}: not writable")
    return output_dir


def run_unlearning(
    config: TrainConfig,
    model_dir: str | Path,
    output_dir: str | Path,
    forget_dir: str | Path,
    retain_dir: str | Path,
) -> RunReport:
    """Unlearn ``forget_dir`` from ``model_dir`` and leave a checkpoint in ``output_dir``."""
    method = method_named(config.method)
    started = time.time()
    deadline = deadline_of(config)
    forget_items, retain_items = load_split(forget_dir, "forget"), load_split(retain_dir, "retain")
    output_dir = _writable_output(output_dir)

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
    forget, retain = (
        [make_example(tokenizer, i, config.train_prompt, config.max_length) for i in items]
        for items in (forget_items, retain_items)
    )
    pad = tokenizer.pad_token_id
    references = prepare_references(method.needs, model, model_dir, forget, pad, accelerator.device)
    forget_term = method.forget_loss()
    retain_term = method.retain_loss() if method.uses_retain_term(config.retain_term) else None

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

    def on_device(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {k: v.to(accelerator.device) for k, v in batch.items()}

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
            terms = [partial(forget_term, config, model, on_device(forget_batch), references)]
            retain_idx = [retain_rng.randrange(len(retain)) for _ in indices]
            report.retain_drawn += retain_idx
            if retain_term is not None:
                retain_batch = on_device(collate([retain[i] for i in retain_idx], pad))
                terms.append(partial(retain_term, config, model, retain_batch, references))
            tick = time.time()
            with accelerator.accumulate(model):
                backward_each(accelerator, terms)
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


def unlearn_with(
    method: str,
    model_dir: str | Path,
    output_dir: str | Path,
    forget_dir: str | Path,
    retain_dir: str | Path,
) -> RunReport:
    """What a method file's ``unlearn()`` does: its config (see ``presets``), then the loop.

    The report is returned for ``lume baseline``; the official contract ignores it.
    """
    return run_unlearning(config_for(method), model_dir, output_dir, forget_dir, retain_dir)
