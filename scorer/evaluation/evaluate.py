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
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from itertools import product
from pathlib import Path

from scorer.beyond.attacks import DocumentStats, aucs_of_scores, membership_scores
from scorer.beyond.bootstrap import bootstrap_intervals
from scorer.contract import SPLITS, TASKS
from scorer.data.files import write_bytes_atomic
from scorer.data.lume import load_lume
from scorer.data.mia import load_mia
from scorer.data.mmlu import load_mmlu
from scorer.data.records import Item
from scorer.engine import generate as engine
from scorer.engine.cache import ResultCache, checkpoint_fingerprint
from scorer.engine.parallel import World, current_world, device_for, share
from scorer.engine.workplan import Unit, plan, run_units, share_of
from scorer.errors import LumeError
from scorer.evaluation.progress import PhaseTimer, ProgressFactory, no_progress
from scorer.evaluation.settings import SPEED_ONLY, EvalSettings
from scorer.official.metrics import item_score, roc_auc
from scorer.official.mmlu_prompt import (
    accuracy,
    answer_token_ids,
    fitted_prompt,
    mmlu_prompt,
    shots_prefix,
)
from scorer.official.score import (
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


@dataclass
class Job:
    """What every phase needs: the model, the settings, the cache and this process's place."""

    lm: engine.LoadedModel
    settings: EvalSettings
    cache: ResultCache
    world: World
    context: dict
    progress: ProgressFactory
    tally: dict[str, int] = field(default_factory=dict)
    batch_tokens: int | None = None  # fixed once per run: every process plans alike

    def budget(self, divisor: int = 1) -> int:
        if self.settings.exact:
            return 0
        tokens = self.batch_tokens or self.settings.batch_tokens
        return max(1, (tokens or engine.auto_batch_tokens(self.lm)) // divisor)

    def run(self, name: str, units: list[Unit], compute: Callable[[Unit], list]) -> dict:
        advance = self.progress(name, share_of(units, self.world))
        return run_units(units, compute, self.cache, self.world, advance, self.tally)


def exact_generations(job: Job, prompts: list[str], phase: str) -> list[str]:
    """Greedy continuations the official way (one ``model.generate`` per prompt)."""
    lm, max_new_tokens = job.lm, job.settings.max_new_tokens

    def compute(unit: Unit) -> list[str]:
        return [engine.reference_generate(lm, prompts[i], max_new_tokens) for i in unit.indices]

    lengths = [len(e) for e in engine.encode(lm, prompts)]
    units = plan(phase, lengths, engine.generation_cost(max_new_tokens), 0, prompts.__getitem__,
                 {**job.context, "exact": True})  # fmt: skip
    results = job.run(phase, units, compute)
    return [results[i] for i in range(len(prompts))]


def _answer_split(prompt: list[int], row: list[int], start: int) -> list[int] | None:
    """The answer tokens to append to ``prompt`` when the official answer-NLL row is that
    prompt followed by them; None when tokenizing ``input + output`` changed the prompt's
    tokens (a word glued across the join), and the row needs its own pass."""
    if start == len(prompt) and row[:start] == prompt:
        return row[start:]
    return None


def score_items(job: Job, items: list[Item]) -> list[dict]:
    """Greedy generation, its score, and the answer NLL, item by item (``items.jsonl``).

    Batched, generation and answer NLL share one forward pass over each prompt
    (``engine.generate_and_score``); exact, the official loop's two passes per item.
    """
    lm, settings = job.lm, job.settings
    prompts = engine.encode(lm, [item.input for item in items])
    rows = engine.truncated(lm, engine.encode(lm, [item.input + item.output for item in items]))
    starts = [min(len(p), len(r)) for p, r in zip(prompts, rows)]
    answers = [_answer_split(p, r, n) for p, r, n in zip(prompts, rows, starts)]

    def compute(unit: Unit) -> list[list]:
        if settings.exact:
            return [
                [
                    engine.reference_generate(lm, items[i].input, settings.max_new_tokens),
                    engine.reference_answer_nll(lm, items[i].input, items[i].output),
                ]
                for i in unit.indices
            ]
        texts, nlls = engine.generate_and_score(
            lm,
            [prompts[i] for i in unit.indices],
            [answers[i] or [] for i in unit.indices],
            settings.max_new_tokens,
            job.budget(4),
        )
        apart = [k for k, i in enumerate(unit.indices) if answers[i] is None]
        if apart:
            separate = engine.answer_nll_batch(
                lm, [rows[unit.indices[k]] for k in apart], [starts[unit.indices[k]] for k in apart]
            )
            for k, nll in zip(apart, separate):
                nlls[k] = nll
        return [list(pair) for pair in zip(texts, nlls)]

    longest_answer = max((len(r) - n for r, n in zip(rows, starts)), default=0)
    units = plan(
        "items",
        [len(p) for p in prompts],
        engine.generation_cost(max(settings.max_new_tokens, longest_answer)),
        job.budget(),
        lambda i: [items[i].input, items[i].output],
        {**job.context, "exact": settings.exact},
    )
    results = job.run("items", units, compute)
    return [
        {
            "id": item.id,
            "task": item.task,
            "split": item.split,
            "kind": item.kind,
            "input": item.input,
            "expected": item.output,
            "generation": results[i][0],
            "score": item_score(item.kind, item.output, results[i][0]),
            "nll": results[i][1],
        }
        for i, item in enumerate(items)
    ]


def check_exact(job: Job, items: list[Item], results: list[dict]) -> dict:
    """Re-generate ``check_exact`` random items (seeded) the official way; compare."""
    n = min(job.settings.check_exact, len(items))
    chosen = sorted(random.Random(0).sample(range(len(items)), n))
    exact = exact_generations(job, [items[i].input for i in chosen], "exact-check")
    identical = sum(exact[k] == results[i]["generation"] for k, i in enumerate(chosen))
    differences = [
        abs(item_score(items[i].kind, items[i].output, exact[k]) - results[i]["score"])
        for k, i in enumerate(chosen)
    ]
    return {
        "items": n,
        "identical_generations": identical,
        "fraction_identical": identical / n if n else None,
        "max_item_score_difference": max(differences, default=0.0),
    }


def document_scores(job: Job, texts: list[str]) -> list[dict]:
    """Per document: the official mean NLL and every attack's membership score."""
    lm, k = job.lm, job.settings.mia_k
    rows = engine.truncated(lm, engine.encode(lm, texts))
    for text, row in zip(texts, rows):
        if len(row) < 2:  # nothing to predict: the official NLL would be NaN
            raise LumeError(f"MIA document {text[:40]!r}: fewer than 2 tokens, no NLL defined")

    def compute(unit: Unit) -> list[dict]:
        stats = engine.token_stats_batch(lm, [rows[i] for i in unit.indices])
        out = []
        for i, s in zip(unit.indices, stats):
            nll = engine.reference_mean_nll(lm, texts[i]) if job.settings.exact else s.mean_nll
            doc = DocumentStats(s.logprobs, s.mu, s.sigma, texts[i])
            out.append({"nll": nll, **membership_scores(doc, k)})
        return out

    units = plan(
        "MIA",
        [len(r) for r in rows],
        lambda n, w: n * w,
        job.budget(4),
        texts.__getitem__,
        job.context,
    )
    results = job.run("MIA", units, compute)
    return [results[i] for i in range(len(texts))]


def score_mia(job: Job, mia: dict) -> tuple[dict, list[dict]]:
    docs = mia["member"] + mia["nonmember"]
    scores = document_scores(job, [d.document for d in docs])
    n = len(mia["member"])
    members, nonmembers = scores[:n], scores[n:]
    auc = roc_auc([-s["nll"] for s in members], [-s["nll"] for s in nonmembers])  # members +
    summary = {
        "auc": auc,
        "score": mia_score(auc),
        "members": len(members),
        "nonmembers": len(nonmembers),
        "member_mean_nll": sum(s["nll"] for s in members) / len(members),
        "nonmember_mean_nll": sum(s["nll"] for s in nonmembers) / len(nonmembers),
    }
    rows = [{"id": d.id, "member": i < n, **s} for i, (d, s) in enumerate(zip(docs, scores))]
    return summary, rows


def score_mmlu(job: Job, mmlu: dict) -> dict:
    """Open-instruct's MMLU; each subject's shared k-shot prefix is computed once per batch."""
    lm, settings = job.lm, job.settings
    tokenizer = lm.tokenizer
    limit = min(OPEN_INSTRUCT_PROMPT_LIMIT, lm.max_positions)

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    # every prompt with all its shots, counted in one batched tokenizer call; only one
    # that is too long goes through ``fitted_prompt``'s one-shot-less-at-a-time search
    asked = [
        (subject, mmlu["dev"].get(subject, []), q)
        for subject, questions in mmlu["test"].items()
        for q in questions
    ]
    whole = [mmlu_prompt(s, dev[: settings.shots], q) for s, dev, q in asked]
    counts = [len(ids) for ids in tokenizer(whole, add_special_tokens=False)["input_ids"]]
    prompts, answers, shots_used = [], [], []
    groups: dict[tuple[str, int], list[int]] = {}
    for (subject, dev, q), prompt, n in zip(asked, whole, counts):
        k = min(settings.shots, len(dev))
        if n > limit:
            prompt, k = fitted_prompt(subject, dev, q, settings.shots, count, limit)
        groups.setdefault((subject, k), []).append(len(prompts))
        prompts.append(prompt)
        answers.append(q.answer)
        shots_used.append(k)
    encoded = engine.encode(lm, prompts) if not settings.exact else []
    candidates = answer_token_ids(lambda s: tokenizer.encode(s, add_special_tokens=False))

    units: list[Unit] = []
    rows: dict[int, list[int]] = {}  # what is run after the unit's prefix
    if settings.exact:
        units = plan(
            "MMLU", [0] * len(prompts), lambda n, w: n, 0, prompts.__getitem__, job.context
        )
    for (subject, k), members in [] if settings.exact else groups.items():
        prefix = tokenizer(shots_prefix(subject, mmlu["dev"].get(subject, [])[:k]))["input_ids"]
        with_prefix, without = [], []
        for i in members:
            full = encoded[i]
            if len(prefix) < len(full) and full[: len(prefix)] == prefix:
                rows[i] = full[len(prefix) :]
                with_prefix.append(i)
            else:  # the tokens do not split at the prefix: run the whole prompt
                rows[i] = full
                without.append(i)
        for part, head in ((with_prefix, tuple(prefix)), (without, ())):
            cost = lambda n, w, p=len(head): n * (p + w)  # noqa: E731
            lengths = [len(rows[i]) for i in part]
            for unit in plan(
                "MMLU",
                lengths,
                cost,
                job.budget(4),
                lambda j, part=part: prompts[part[j]],
                job.context,
                head,
            ):
                units.append(Unit("MMLU", tuple(part[j] for j in unit.indices), unit.key, head))

    def compute(unit: Unit) -> list[int]:
        if settings.exact:
            return [engine.reference_choice(lm, prompts[i], candidates) for i in unit.indices]
        batch = [rows[i] for i in unit.indices]
        return engine.choose_after_prefix(lm, list(unit.context), batch, candidates)

    results = job.run("MMLU", units, compute)
    predictions = [results[i] for i in range(len(prompts))]
    return {
        "accuracy": accuracy(predictions, answers),
        "questions": len(prompts),
        "subjects": len(mmlu["test"]),
        "mean_shots": sum(shots_used) / len(shots_used),
        "correct": [p == a for p, a in zip(predictions, answers)],
    }


def beyond_official(
    results: list[dict], mia_rows: list[dict] | None, mmlu: dict | None, settings: EvalSettings
) -> dict:
    """Reported beside the official score, never mixed into it: the other MIA attacks'
    AUCs and seeded bootstrap 95% intervals (items resampled)."""
    extra: dict = {"mia_attacks": None, "bootstrap": None}
    members = nonmembers = None
    if mia_rows is not None:
        members = [r for r in mia_rows if r["member"]]
        nonmembers = [r for r in mia_rows if not r["member"]]
        extra["mia_attacks"] = {"k": settings.mia_k, **aucs_of_scores(members, nonmembers)}
    if settings.bootstrap:
        extra["bootstrap"] = bootstrap_intervals(
            [ItemResult(r["split"], r["task"], r["kind"], r["score"]) for r in results],
            [-r["nll"] for r in members] if members is not None else None,
            [-r["nll"] for r in nonmembers] if nonmembers is not None else None,
            mmlu["correct"] if mmlu is not None else None,
            replicates=settings.bootstrap,
            seed=0,
        )
    return extra


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
    lm = timer.run(
        "load model",
        lambda: engine.load_model(model_dir, device_for(world, settings.device), settings.dtype),
    )
    context = {
        "checkpoint": timer.run("fingerprint", lambda: checkpoint_fingerprint(model_dir))
        if cache_dir is not None
        else None,
        "device": lm.device.type,
        "dtype": str(next(lm.model.parameters()).dtype),
        "max_new_tokens": settings.max_new_tokens,
        "shots": settings.shots,
        "mia_k": settings.mia_k,
    }
    tokens = settings.batch_tokens or engine.auto_batch_tokens(lm)
    tokens = min(share(world, {str(world.rank): tokens}).values())  # the same plan everywhere
    job = Job(lm, settings, ResultCache(cache_dir), world, context, progress, batch_tokens=tokens)
    results = timer.run("items", lambda: score_items(job, inputs.items))
    agreement = (
        timer.run("exact-check", lambda: check_exact(job, inputs.items, results))
        if settings.check_exact and not settings.exact
        else None
    )
    mia, mia_rows = (
        timer.run("MIA", lambda: score_mia(job, inputs.mia))
        if inputs.mia is not None
        else (None, None)
    )
    mmlu = (
        timer.run("MMLU", lambda: score_mmlu(job, inputs.mmlu)) if inputs.mmlu is not None else None
    )
    components = component_means(
        ItemResult(r["split"], r["task"], r["kind"], r["score"]) for r in results
    )
    aggregate = task_aggregate(components)
    mia_value = mia["score"] if mia else None
    mmlu_value = mmlu["accuracy"] if mmlu else None
    extra = timer.run("bootstrap", lambda: beyond_official(results, mia_rows, mmlu, settings))
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
        "mmlu_details": {k: v for k, v in mmlu.items() if k != "correct"} if mmlu else None,
        "items": len(results),
        "settings": {k: v for k, v in asdict(settings).items() if k not in SPEED_ONLY},
        "beyond_official": extra,
    }
    if agreement is not None:
        scores["agreement"] = agreement
    timer.units = share(world, {str(world.rank): dict(job.tally)})
    if world.is_main:
        _write_outputs(Path(out_dir), scores, results, mia_rows)
    return scores


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def _write_outputs(out: Path, scores: dict, results: list[dict], mia_rows: list[dict] | None):
    write_bytes_atomic(out / "items.jsonl", _jsonl(results))
    if mia_rows is not None:
        write_bytes_atomic(out / "mia.jsonl", _jsonl(mia_rows))
    write_bytes_atomic(out / "scores.json", (json.dumps(scores, indent=2) + "\n").encode("utf-8"))
