"""``lume-score evaluate``: score one checkpoint and write ``scores.json`` + ``items.jsonl``.

Every input is loaded and validated before the model is touched, and the outputs are
written only at the end (``items.jsonl`` and ``mia.jsonl`` first, ``scores.json`` last and
atomically), so bad input writes nothing and an interrupted run never leaves a scores
file behind. With a cache directory, each finished batch is kept on disk and a run that
was killed resumes where it stopped (see :mod:`scorer.engine.workplan`); under ``torchrun`` or
``accelerate launch`` the batches are shared out between the processes. ``scores.json``
holds no timings or absolute paths: the same inputs give the same bytes, however the
run was interrupted or spread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from itertools import product
from pathlib import Path

from scorer.contract import SPLITS, TASKS
from scorer.data.files import write_bytes_atomic
from scorer.data.lume import find_lume_files, load_lume
from scorer.data.mia import find_mia_files, load_mia
from scorer.data.mmlu import load_mmlu
from scorer.data.records import Item
from scorer.engine.batched import BatchedEngine
from scorer.engine.cache import ResultCache, checkpoint_fingerprint
from scorer.engine.interface import Engine
from scorer.engine.margins import dtype_name
from scorer.engine.model import (
    LoadedModel,
    auto_batch_tokens,
    config_json,
    context_of,
    load_model,
    load_tokenizer,
    rotary,
    stored_dtype,
)
from scorer.engine.parallel import World, current_world, device_for, share
from scorer.engine.reference import ReferenceEngine
from scorer.engine.row_attention import generation_layout
from scorer.errors import LumeError
from scorer.evaluation.agreement import check_exact
from scorer.evaluation.job import Job
from scorer.evaluation.phases import score_items, score_items_repaired, score_mia, score_mmlu
from scorer.evaluation.progress import PhaseTimer, ProgressFactory, no_progress
from scorer.evaluation.settings import EvalSettings
from scorer.evaluation.summary import beyond_official, scores_record
from scorer.evaluation.tokens import check_documents, check_items, refuse_past_a_table
from scorer.official.score import METRIC_OF_KIND


@dataclass(frozen=True)
class Inputs:
    """Everything a run scores, loaded and validated: LUME items, MIA sets, MMLU."""

    items: list[Item]
    mia: dict | None
    mmlu: dict | None


def load_inputs(data_dir, mia_dir, mmlu_dir, fold: str) -> Inputs:
    """Load and validate everything first: bad input fails before any model work."""
    lume = load_lume(data_dir, fold)
    mia = load_mia(mia_dir) if mia_dir is not None else None
    mmlu = load_mmlu(mmlu_dir) if mmlu_dir is not None else None
    if mmlu is not None and not any(mmlu["test"].values()):
        raise LumeError(f"{mmlu_dir}: the MMLU test split holds no questions")
    items = lume["forget"] + lume["retain"]
    present = {(i.split, i.task, i.kind) for i in items}
    for split, task, kind in product(SPLITS, TASKS, METRIC_OF_KIND):
        if (split, task, kind) not in present:
            raise LumeError(
                f"{data_dir}: no {kind} items for {split} {task} in the {fold} fold; "
                "the official score needs all 12 components"
            )
    return Inputs(items=items, mia=mia, mmlu=mmlu)


def lm_dtype(lm: LoadedModel):
    return next(lm.model.parameters()).dtype


def check_inputs(tokenizer, inputs: Inputs, config: dict, data_dir, mia_dir, fold, model_dir):
    """Every text against the tokenizer and the context, before the model loads: refuse
    what cannot be scored, report what runs past the context."""
    context = context_of(config)
    report = {"items": check_items(tokenizer, inputs.items, find_lume_files(data_dir, fold),
                                   context)}  # fmt: skip
    if inputs.mia is not None:
        report["mia_documents"] = check_documents(tokenizer, inputs.mia, find_mia_files(mia_dir),
                                                  context)  # fmt: skip
    counts = {"prompts": report["items"]["prompts"], "answer_rows": report["items"]["answer_rows"],
              "MIA documents": report.get("mia_documents")}  # fmt: skip
    refuse_past_a_table(counts, rotary(config), model_dir)
    return report


def pick_engine(lm: LoadedModel, settings: EvalSettings, world: World) -> Engine:
    """The reference engine for ``--exact``, else the batched one, with the smallest token
    budget of all processes so that every process plans the same batches; in reduced
    precision its generation batches give each row the per-item loop's logits bit for bit
    where this device allows it (:func:`generation_layout`)."""
    if settings.exact:
        return ReferenceEngine(lm)
    tokens = settings.batch_tokens or auto_batch_tokens(lm)
    budget = min(share(world, {str(world.rank): tokens}).values())
    layouts = set(share(world, {str(world.rank): generation_layout(lm)}).values())
    # every process plans the same batches: one whose device is not exact by row sets the
    # layout for all
    layout = layouts.pop() if len(layouts) == 1 else "equal prompt length"
    return BatchedEngine(lm, budget, layout)


def evaluate(
    model_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    mia_dir: str | Path | None = None,
    mmlu_dir: str | Path | None = None,
    settings: EvalSettings = EvalSettings(),
    progress: ProgressFactory = no_progress,
    timer: PhaseTimer | None = None,
    cache_dir: str | Path | None = None,
) -> dict:
    """Score ``model_dir``; return the scores dict also written to ``OUT/scores.json``.

    With ``cache_dir``, finished batches are kept there and reused by a later run on the
    same checkpoint and settings (a killed run resumes). Under a multi-process launch only
    the first process writes files; every process returns the same scores.
    """
    timer = timer or PhaseTimer()
    world = current_world()
    inputs = timer.run("load data", lambda: load_inputs(data_dir, mia_dir, mmlu_dir, settings.fold))
    config = config_json(model_dir)
    tokenizer = timer.run("load tokenizer", lambda: load_tokenizer(model_dir))
    lengths = timer.run(
        "check inputs",
        lambda: check_inputs(
            tokenizer, inputs, config, data_dir, mia_dir, settings.fold, model_dir
        ),
    )
    mmlu_dtype = (
        stored_dtype(config, model_dir) if settings.mmlu_dtype == "auto" else settings.mmlu_dtype
    )
    device = device_for(world, settings.device)
    lm = timer.run("load model", lambda: load_model(model_dir, device, settings.dtype, tokenizer))
    context = {
        "checkpoint": timer.run("fingerprint", lambda: checkpoint_fingerprint(model_dir))
        if cache_dir is not None
        else None,
        "device": lm.device.type,
        "dtype": str(lm_dtype(lm)),
        "max_new_tokens": settings.max_new_tokens,
        "shots": settings.shots,
        "mia_k": settings.mia_k,
    }
    items_dtype = lm_dtype(lm)
    engine = pick_engine(lm, settings, world)
    job = Job(settings, ResultCache(cache_dir), world, context, progress)
    if settings.exact:
        results, repair = timer.run("items", lambda: score_items(job, engine, inputs.items)), None
    else:
        results, repair = timer.run(
            "items",
            lambda: score_items_repaired(
                job, engine, ReferenceEngine(lm), inputs.items, settings.repair
            ),
        )
    agreement = (
        timer.run(
            "exact-check", lambda: check_exact(job, ReferenceEngine(lm), inputs.items, results)
        )
        if settings.check_exact and not settings.exact
        else None
    )
    mia, mia_rows = (
        timer.run("MIA", lambda: score_mia(job, engine, inputs.mia))
        if inputs.mia is not None
        else (None, None)
    )
    mmlu = None
    if inputs.mmlu is not None:
        if dtype_name(lm_dtype(lm)) != mmlu_dtype:  # open-instruct's dtype, loaded only then
            lm = timer.run(
                "load model",
                lambda: load_model(model_dir, device, mmlu_dtype, tokenizer),
            )
            engine = pick_engine(lm, settings, world)
            job = replace(job, context={**context, "dtype": str(lm_dtype(lm))})
        mmlu = timer.run("MMLU", lambda: score_mmlu(job, engine, inputs.mmlu))
        mmlu["dtype"] = dtype_name(lm_dtype(lm))
    extra = timer.run("bootstrap", lambda: beyond_official(results, mia_rows, mmlu, settings))
    scores = scores_record(results, mia, mmlu, settings, extra, agreement, repair)
    scores["dtypes"] = {"items": dtype_name(items_dtype), "mia": dtype_name(items_dtype),
                        "mmlu": mmlu["dtype"] if mmlu else None}  # fmt: skip
    scores["past_context"] = lengths
    timer.units = share(world, {str(world.rank): dict(job.tally)})
    if world.is_main:
        write_outputs(Path(out_dir), scores, results, mia_rows)
    return scores


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def write_outputs(out: Path, scores: dict, results: list[dict], mia_rows: list[dict] | None):
    """``items.jsonl`` and ``mia.jsonl`` first, ``scores.json`` last, each atomically: a
    scores file is there only when everything it summarizes is."""
    write_bytes_atomic(out / "items.jsonl", _jsonl(results))
    if mia_rows is not None:
        write_bytes_atomic(out / "mia.jsonl", _jsonl(mia_rows))
    write_bytes_atomic(out / "scores.json", (json.dumps(scores, indent=2) + "\n").encode("utf-8"))
