"""``lume-score evaluate``: score one checkpoint and write ``scores.json`` + ``items.jsonl``.

Every input is loaded and validated before the model is touched, and the outputs are
written only at the end (``items.jsonl`` first, ``scores.json`` last and atomically), so
bad input writes nothing and an interrupted run never leaves a scores file behind.
``scores.json`` holds no timings or absolute paths: the same inputs give the same bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path

from scorer import generate as engine
from scorer.data import SPLITS, TASKS, Item, load_lume, load_mia, load_mmlu, write_bytes_atomic
from scorer.errors import LumeError
from scorer.metrics import item_score, roc_auc
from scorer.mmlu import accuracy, answer_token_ids, fitted_prompt
from scorer.score import (
    METRIC_OF_KIND,
    ItemResult,
    component_means,
    final_score,
    mia_score,
    mmlu_passed,
    task_aggregate,
)

OPEN_INSTRUCT_PROMPT_LIMIT = 2048  # open-instruct drops shots until a prompt fits this


@dataclass(frozen=True)
class EvalSettings:
    """What changes the numbers; recorded in ``scores.json``."""

    fold: str = "validation"
    max_new_tokens: int = 256
    shots: int = 5
    device: str = "auto"
    dtype: str = "auto"
    mmlu_threshold: float | None = None
    batch_tokens: int = 16384


@dataclass
class PhaseTimer:
    """Seconds per phase, for the printed summary (never written to ``scores.json``)."""

    seconds: dict[str, float] = field(default_factory=dict)

    def run(self, name: str, work: Callable):
        start = time.perf_counter()
        result = work()
        self.seconds[name] = time.perf_counter() - start
        return result


# Progress hook: (phase name, total units) -> callable advancing by n units.
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def no_progress(_phase: str, _total: int) -> Callable[[int], None]:
    return lambda _n: None


@dataclass(frozen=True)
class Inputs:
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


def score_items(lm, items: list[Item], settings: EvalSettings, progress) -> list[dict]:
    generations = engine.generate(
        lm,
        [item.input for item in items],
        max_new_tokens=settings.max_new_tokens,
        batch_tokens=settings.batch_tokens,
        progress=progress("generation", len(items)),
    )
    return [
        {
            "id": item.id,
            "task": item.task,
            "split": item.split,
            "kind": item.kind,
            "input": item.input,
            "expected": item.output,
            "generation": generation,
            "score": item_score(item.kind, item.output, generation),
        }
        for item, generation in zip(items, generations)
    ]


def score_mia(lm, mia: dict, settings: EvalSettings, progress) -> dict:
    docs = mia["member"] + mia["nonmember"]
    nlls = engine.mean_nlls(
        lm,
        [d.document for d in docs],
        batch_tokens=settings.batch_tokens // 4,
        progress=progress("MIA", len(docs)),
    )
    members, nonmembers = nlls[: len(mia["member"])], nlls[len(mia["member"]) :]
    auc = roc_auc([-x for x in members], [-x for x in nonmembers])  # members positive
    return {
        "auc": auc,
        "score": mia_score(auc),
        "members": len(members),
        "nonmembers": len(nonmembers),
        "member_mean_nll": sum(members) / len(members),
        "nonmember_mean_nll": sum(nonmembers) / len(nonmembers),
    }


def score_mmlu(lm, mmlu: dict, settings: EvalSettings, progress) -> dict:
    tokenizer = lm.tokenizer
    limit = min(OPEN_INSTRUCT_PROMPT_LIMIT, lm.max_positions)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    prompts, answers, shots_used = [], [], []
    for subject, questions in mmlu["test"].items():
        dev = mmlu["dev"].get(subject, [])
        for q in questions:
            prompt, k = fitted_prompt(subject, dev, q, settings.shots, count, limit)
            prompts.append(prompt)
            answers.append(q.answer)
            shots_used.append(k)
    candidates = answer_token_ids(lambda s: tokenizer.encode(s, add_special_tokens=False))
    predictions = engine.choose_next_token(
        lm, prompts, candidates, settings.batch_tokens // 4, progress("MMLU", len(prompts))
    )
    return {
        "accuracy": accuracy(predictions, answers),
        "questions": len(prompts),
        "subjects": len(mmlu["test"]),
        "mean_shots": sum(shots_used) / len(shots_used),
    }


def evaluate(
    model_dir: str | Path,
    data_dir: str | Path,
    out_dir: str | Path,
    mia_dir: str | Path | None = None,
    mmlu_dir: str | Path | None = None,
    settings: EvalSettings = EvalSettings(),
    progress: ProgressFactory = no_progress,
    timer: PhaseTimer | None = None,
) -> dict:
    """Score ``model_dir``; return the scores dict also written to ``OUT/scores.json``."""
    timer = timer or PhaseTimer()
    inputs = timer.run("load data", lambda: load_inputs(data_dir, mia_dir, mmlu_dir, settings.fold))
    lm = timer.run(
        "load model", lambda: engine.load_model(model_dir, settings.device, settings.dtype)
    )
    results = timer.run("generation", lambda: score_items(lm, inputs.items, settings, progress))
    mia = (
        timer.run("MIA", lambda: score_mia(lm, inputs.mia, settings, progress))
        if inputs.mia is not None
        else None
    )
    mmlu = (
        timer.run("MMLU", lambda: score_mmlu(lm, inputs.mmlu, settings, progress))
        if inputs.mmlu is not None
        else None
    )
    components = component_means(
        ItemResult(r["split"], r["task"], r["kind"], r["score"]) for r in results
    )
    aggregate = task_aggregate(components)
    mia_value = mia["score"] if mia else None
    mmlu_value = mmlu["accuracy"] if mmlu else None
    scores = {
        "final_score": final_score(aggregate, mia_value, mmlu_value),
        "task_aggregate": aggregate,
        "mia_auc": mia["auc"] if mia else None,
        "mia_score": mia_value,
        "mmlu": mmlu_value,
        "mmlu_threshold": settings.mmlu_threshold,
        "mmlu_passed": mmlu_passed(mmlu_value, settings.mmlu_threshold),
        "forget": components["forget"],
        "retain": components["retain"],
        "mia": mia,
        "mmlu_details": mmlu,
        "items": len(results),
        "settings": {k: v for k, v in asdict(settings).items() if k != "batch_tokens"},
    }
    out = Path(out_dir)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results)
    write_bytes_atomic(out / "items.jsonl", lines.encode("utf-8"))
    write_bytes_atomic(out / "scores.json", (json.dumps(scores, indent=2) + "\n").encode("utf-8"))
    return scores
