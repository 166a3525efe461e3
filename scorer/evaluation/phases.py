"""The three phases of a score over any engine: items (generation, item score, answer NLL),
MIA (per-document NLL and attack scores) and MMLU (the next-token choice).

A phase builds its inputs (the official prompts), asks the engine for the work, runs it
through the job (cache, processes, progress) and turns the results into records. It never
asks which engine it holds.
"""

from __future__ import annotations

from scorer.beyond.attacks import DocumentStats, membership_scores
from scorer.data.records import Item
from scorer.engine.interface import ChoicePrompt, Engine
from scorer.engine.margins import (
    PROBES,
    calibrated,
    doubtful_rows,
    dtype_name,
    probe_rows,
    repair_threshold,
)
from scorer.engine.token_stats import TokenStats
from scorer.errors import LumeError
from scorer.evaluation.job import Job
from scorer.official.metrics import item_score, roc_auc
from scorer.official.mmlu_prompt import (
    accuracy,
    answer_token_ids,
    fitted_prompt,
    mmlu_prompt,
    shots_prefix,
)
from scorer.official.score import mia_score

OPEN_INSTRUCT_PROMPT_LIMIT = 2048  # open-instruct drops shots until a prompt fits this


def _records(items: list[Item], results: list[list]) -> list[dict]:
    return [
        {
            "id": item.id,
            "task": item.task,
            "split": item.split,
            "kind": item.kind,
            "input": item.input,
            "expected": item.output,
            "generation": result[0],
            "score": item_score(item.kind, item.output, result[0]),
            "nll": result[1],
        }
        for item, result in zip(items, results)
    ]


def score_items(job: Job, engine: Engine, items: list[Item], phase: str = "items") -> list[dict]:
    """Greedy generation, its score, and the answer NLL, item by item (``items.jsonl``)."""
    work = engine.answer_items([(i.input, i.output) for i in items], job.settings.max_new_tokens)
    return _records(items, job.run(phase, work, lambda i: [items[i].input, items[i].output]))


def score_items_repaired(
    job: Job, engine: Engine, reference: Engine, items: list[Item], repair: bool = True
) -> tuple[list[dict], dict]:
    """:func:`score_items`, with every item whose greedy path is not provably the per-item
    loop's (a top-2 margin under :func:`repair_threshold`) generated again by
    ``reference``; also what was repaired, for ``scores.json``.

    The bound is tested on every run: the ``PROBES`` rows nearest a tie that it lets through
    are generated again too, and if one of them differs the bound does not hold on this
    machine, so every row under the cautious threshold (``UNMEASURED``) is generated again.
    A regenerated row is the per-item loop's own result, so the repair never moves a row
    away from ``--exact``. ``repair=False`` only counts the doubtful rows.
    """
    pairs = [(i.input, i.output) for i in items]
    results = job.run(
        "items",
        engine.answer_items(pairs, job.settings.max_new_tokens),
        lambda i: [items[i].input, items[i].output],
    )
    lm = engine.lm
    dtype, device = next(lm.model.parameters()).dtype, lm.device.type
    margins = [r[2] if len(r) > 2 else None for r in results]
    threshold = repair_threshold(dtype, device)
    doubtful = doubtful_rows(margins, threshold)
    record = {
        "method": "per-item loop for rows under the threshold" if repair else "off",
        "items": len(items),
        "doubtful": len(doubtful),
        "regenerated": 0,
        "threshold": threshold,
        "unit": "eps x max|logit|",
        "dtype": dtype_name(dtype),
        "calibrated": calibrated(dtype, device),
        "batches": getattr(engine, "layout", "padded"),
    }
    if not repair:
        return _records(items, results), record
    probes = probe_rows(margins, doubtful, PROBES)
    again = _regenerate(job, reference, pairs, sorted(doubtful + probes), "repair")
    failed = [i for i in probes if again[i][0] != results[i][0]]
    if failed:  # the bound does not hold here: fall back to the cautious one
        record["threshold"] = repair_threshold(dtype, "unmeasured")
        record["calibrated"] = False
        more = [i for i in doubtful_rows(margins, record["threshold"]) if i not in again]
        again |= _regenerate(job, reference, pairs, more, "repair (cautious)")
    for i, result in again.items():
        results[i] = result
    record |= {"regenerated": len(again), "probes": len(probes), "probes_differed": len(failed)}
    return _records(items, results), record


def _regenerate(
    job: Job, reference: Engine, pairs: list[tuple[str, str]], rows: list[int], phase: str
) -> dict[int, list]:
    """The per-item loop's results for ``rows`` (by row)."""
    if not rows:
        return {}
    work = reference.answer_items([pairs[i] for i in rows], job.settings.max_new_tokens)
    return dict(zip(rows, job.run(phase, work, lambda k: [*pairs[rows[k]]])))


def document_scores(job: Job, engine: Engine, texts: list[str]) -> list[dict]:
    """Per document: the official mean NLL and every attack's membership score."""
    for text, ids in zip(texts, engine.lm.tokenizer(list(texts))["input_ids"] if texts else []):
        if len(ids) < 2:  # nothing to predict: the official NLL would be NaN
            raise LumeError(f"MIA document {text[:40]!r}: fewer than 2 tokens, no NLL defined")

    def keep(i: int, stats: TokenStats) -> dict:
        doc = DocumentStats(stats.logprobs, stats.mu, stats.sigma, texts[i])
        return {"nll": stats.mean_nll, **membership_scores(doc, job.settings.mia_k)}

    return job.run("MIA", engine.document_stats(texts), texts.__getitem__, keep)


def score_mia(job: Job, engine: Engine, mia: dict) -> tuple[dict, list[dict]]:
    """The official MIA (loss attack AUC over members and nonmembers) and one row per
    document for ``mia.jsonl``."""
    docs = mia["member"] + mia["nonmember"]
    scores = document_scores(job, engine, [d.document for d in docs])
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


def mmlu_prompts(
    tokenizer, mmlu: dict, shots: int, limit: int
) -> tuple[list[ChoicePrompt], list[int], list[int]]:
    """Open-instruct's prompts (each with its subject's k-shot prefix), their answers and
    how many shots each kept.

    Every prompt with all its shots is counted in one batched tokenizer call; only one that
    is too long goes through ``fitted_prompt``'s one-shot-less-at-a-time search.
    """

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    asked = [
        (subject, mmlu["dev"].get(subject, []), q)
        for subject, questions in mmlu["test"].items()
        for q in questions
    ]
    whole = [mmlu_prompt(s, dev[:shots], q) for s, dev, q in asked]
    counts = [len(ids) for ids in tokenizer(whole, add_special_tokens=False)["input_ids"]]
    prompts, answers, shots_used = [], [], []
    for (subject, dev, q), prompt, n in zip(asked, whole, counts):
        k = min(shots, len(dev))
        if n > limit:
            prompt, k = fitted_prompt(subject, dev, q, shots, count, limit)
        prompts.append(ChoicePrompt(prompt, shots_prefix(subject, dev[:k])))
        answers.append(q.answer)
        shots_used.append(k)
    return prompts, answers, shots_used


def score_mmlu(job: Job, engine: Engine, mmlu: dict) -> dict:
    """Open-instruct's MMLU: accuracy over every test question (micro average), and each
    subject's count of correct answers (``by_subject``, for the report; not in the score)."""
    tokenizer = engine.lm.tokenizer
    limit = min(OPEN_INSTRUCT_PROMPT_LIMIT, engine.lm.max_positions)
    prompts, answers, shots_used = mmlu_prompts(tokenizer, mmlu, job.settings.shots, limit)
    candidates = answer_token_ids(lambda s: tokenizer.encode(s, add_special_tokens=False))
    work = engine.choices(prompts, candidates)
    predictions = job.run("MMLU", work, lambda i: prompts[i].text)
    correct = [p == a for p, a in zip(predictions, answers)]
    subjects = [s for s, questions in mmlu["test"].items() for _ in questions]  # prompts' order
    by_subject = {s: {"correct": 0, "questions": 0} for s in sorted(mmlu["test"])}
    for subject, right in zip(subjects, correct):
        by_subject[subject]["correct"] += int(right)
        by_subject[subject]["questions"] += 1
    return {
        "accuracy": accuracy(predictions, answers),
        "questions": len(prompts),
        "subjects": len(mmlu["test"]),
        "mean_shots": sum(shots_used) / len(shots_used),
        "by_subject": by_subject,
        "correct": correct,
    }
