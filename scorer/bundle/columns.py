"""The leaderboard's columns and the flat ``scores.json`` the scoring program writes for them.

Written once: the bundle's ``competition.yaml`` lists :func:`columns` and the scoring
program writes :func:`flat_scores`, so the keys are the same by construction (Codabench
drops a score whose key is no column's, and a column without a score stays empty).
The final score comes first, sorted descending: Codabench ranks by the leaderboard's
``primary_index`` (0), then by the other columns in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from scorer.contract import SPLITS, TASKS
from scorer.errors import LumeError

METRICS = ("regurgitation", "knowledge")


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    sorting: str  # "desc": larger is better; "asc": smaller is better
    precision: int = 3


HEAD = (
    Column("final_score", "Final score", "desc"),
    Column("task_aggregate", "Task aggregate", "desc"),
    Column("mia_score", "MIA score", "desc"),
    Column("mmlu", "MMLU", "desc"),
)
GATE = Column("mmlu_passed", "MMLU gate passed (1/0)", "desc", 0)
# forget numbers are raw means (lower is better: forgotten); retain ones higher is better
COMPONENTS = tuple(
    Column(
        f"{split}_{task.lower()}_{metric}",
        f"{split.capitalize()} {task} {metric}",
        "asc" if split == "forget" else "desc",
    )
    for split in SPLITS
    for task in TASKS
    for metric in METRICS
)
TAIL = (
    Column("mia_auc", "MIA AUC", "asc"),
    Column("wall_seconds", "unlearn() wall seconds", "asc", 1),
)


def columns(gated: bool) -> tuple[Column, ...]:
    """The leaderboard's columns; the MMLU gate only on a track that has a threshold."""
    return (*HEAD, *((GATE,) if gated else ()), *COMPONENTS, *TAIL)


def leaderboard(gated: bool) -> dict:
    """``competition.yaml``'s one leaderboard (Codabench's v2 keys)."""
    return {
        "title": "Results",
        "key": "main",
        "submission_rule": "Force_Last",
        "columns": [
            {
                "title": c.title,
                "key": c.key,
                "index": i,
                "sorting": c.sorting,
                "precision": c.precision,
            }
            for i, c in enumerate(columns(gated))
        ],
    }


def _number(name: str, value) -> float:
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, int | float):
        raise LumeError(f"scores.json: {name} is {value!r}, not a number (a column needs one)")
    return float(value)


def flat_scores(scores: dict, run: dict, gated: bool) -> dict[str, float]:
    """One number per column, from ``lume-score evaluate``'s ``scores.json`` and ``run.json``."""
    values = {
        "final_score": scores.get("final_score"),
        "task_aggregate": scores.get("task_aggregate"),
        "mia_score": scores.get("mia_score"),
        "mmlu": scores.get("mmlu"),
        "mia_auc": scores.get("mia_auc"),
        "wall_seconds": run.get("wall_seconds"),
    }
    if gated:
        values["mmlu_passed"] = scores.get("mmlu_passed")
    for split in SPLITS:
        for task in TASKS:
            for metric in METRICS:
                part = (scores.get(split) or {}).get(task) or {}
                values[f"{split}_{task.lower()}_{metric}"] = part.get(metric)
    return {c.key: _number(c.key, values[c.key]) for c in columns(gated)}
