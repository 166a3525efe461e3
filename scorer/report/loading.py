"""Load what a report shows from a result directory, whichever command wrote it.

Three layouts are accepted:

- ``lume-score evaluate --out DIR``: ``DIR/scores.json`` with ``items.jsonl`` and
  ``mia.jsonl`` beside it;
- ``lume-score run --evaluate --out DIR``: ``DIR/run.json`` (the budget) and the same three
  files in ``DIR/evaluation/``;
- several checkpoints of one run: sub-directories with a step number in their name
  (``checkpoint-500/``, ``step_1000/``), each in one of the layouts above. The last step is
  the one shown in detail; every step's scores go into the along-the-steps section.

Every file is checked before anything is drawn: a bad one is a one-line error naming the
file, line and field. Missing optional files (``items.jsonl``, ``mia.jsonl``, ``run.json``)
load as ``None``: the report says those sections are not available.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scorer.beyond.attacks import ATTACKS
from scorer.contract import SPLITS, TASKS
from scorer.data.reading import (
    decode_utf8,
    fail,
    is_finite_number,
    jsonl_records,
    read_json_object,
    show,
    type_name,
)
from scorer.errors import DataError
from scorer.leaderboard import check_scores
from scorer.official.score import METRIC_OF_KIND

SCORES, ITEMS, MIA, RUN = "scores.json", "items.jsonl", "mia.jsonl", "run.json"
EVALUATION_DIR = "evaluation"  # where ``lume-score run --evaluate`` puts evaluate's files
ITEM_TEXT_FIELDS = ("id", "task", "split", "kind", "input", "expected", "generation")
METRICS = tuple(METRIC_OF_KIND.values())  # regurgitation, knowledge
STEP = re.compile(r"(\d+)(?!.*\d)")  # the last number in a directory's name


@dataclass(frozen=True)
class Checkpoint:
    """One scored checkpoint of a run: its step, its directory's name, its scores."""

    step: int
    name: str
    scores: dict


@dataclass(frozen=True)
class Result:
    """One result as the report shows it; ``items``, ``mia`` and ``run`` may be absent.

    ``source`` is the directory the detailed files came from; ``steps`` lists every scored
    checkpoint (sorted by step) when the result is a series, else it is empty.
    """

    name: str
    source: Path
    scores: dict
    items: list[dict] | None
    mia: list[dict] | None
    run: dict | None
    steps: tuple[Checkpoint, ...] = ()


def _field(path: Path, line: int, row: dict, key: str, ok, expected: str):
    value = row.get(key)
    if not ok(value):
        shown = "missing" if key not in row else f"{show(value)}"
        raise fail(path, f"line {line}: field {key!r} is {shown}, expected {expected}")
    return value


def read_items(path: Path) -> list[dict]:
    """``items.jsonl``: one scored item a line, ids unique (the table matches them by id)."""
    rows, seen = [], {}
    for line, row in jsonl_records(path, decode_utf8(path)):
        for key in ITEM_TEXT_FIELDS:
            _field(path, line, row, key, lambda v: isinstance(v, str), "a string")
        _field(path, line, row, "score", is_finite_number, "a number")
        if row["id"] in seen:
            raise fail(path, f"line {line}: id {show(row['id'])} repeats line {seen[row['id']]}")
        seen[row["id"]] = line
        rows.append(row)
    return rows


def read_mia(path: Path) -> list[dict]:
    """``mia.jsonl``: per document, ``member``, ``nll`` and each attack's membership score."""
    rows = []
    for line, row in jsonl_records(path, decode_utf8(path)):
        _field(path, line, row, "member", lambda v: isinstance(v, bool), "true or false")
        _field(path, line, row, "nll", is_finite_number, "a number")
        for key in ATTACKS:
            if key in row:
                _field(path, line, row, key, is_finite_number, "a number")
        rows.append(row)
    return rows


def read_run(path: Path) -> dict:
    """``run.json``: the fields the budget section reads must be numbers (or null)."""
    run = read_json_object(path)
    for key in ("wall_seconds", "time_limit_seconds", "cpu_seconds", "peak_memory_bytes"):
        value = run.get(key)
        if value is not None and not (is_finite_number(value) and value >= 0):
            raise fail(path, f"field {key!r} is {show(value)}, expected a number >= 0 or null")
    gpu = run.get("gpu")
    if gpu is not None and not isinstance(gpu, dict):
        raise fail(path, f"field 'gpu' is {type_name(gpu)}, expected an object or null")
    for key in ("gpu_seconds", "allocated_gpu_seconds"):
        value = (gpu or {}).get(key)
        if value is not None and not (is_finite_number(value) and value >= 0):
            raise fail(path, f"field 'gpu.{key}' is {show(value)}, expected a number >= 0 or null")
    return run


def scores_dir(directory: Path) -> Path | None:
    """Where a result directory keeps ``scores.json``: itself, or its ``evaluation/``."""
    for candidate in (directory, directory / EVALUATION_DIR):
        if (candidate / SCORES).is_file():
            return candidate
    return None


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_by_subject(scores: dict, path: Path) -> None:
    """``mmlu_details.by_subject``, when present: ``{subject: {"correct": n, "questions": m}}``
    with ``0 <= n <= m``."""
    counts = (scores.get("mmlu_details") or {}).get("by_subject")
    if counts is None:
        return
    if not isinstance(counts, dict):
        raise fail(
            path, f"field 'mmlu_details.by_subject' is {type_name(counts)}, expected an object"
        )
    for subject, c in counts.items():
        field = f"mmlu_details.by_subject.{subject}"
        ok = isinstance(c, dict) and _is_count(c.get("correct")) and _is_count(c.get("questions"))
        if not ok or c["correct"] > c["questions"]:
            raise fail(
                path,
                f"field {field!r} is {show(c)}, expected "
                '{"correct": n, "questions": m} with 0 <= n <= m',
            )


def _scores(directory: Path) -> dict:
    path = directory / SCORES
    scores = check_scores(read_json_object(path), path)
    for split, task, metric in ((s, t, m) for s in SPLITS for t in TASKS for m in METRICS):
        value = ((scores.get(split) or {}).get(task) or {}).get(metric)
        if not (is_finite_number(value) and 0 <= value <= 1):
            raise fail(
                path,
                f"field '{split}.{task}.{metric}' is {show(value)}, expected a number in [0, 1]",
            )
    details = scores.get("mmlu_details")
    if details is not None and not isinstance(details, dict):
        raise fail(path, f"field 'mmlu_details' is {type_name(details)}, expected an object")
    check_by_subject(scores, path)
    return scores


def find_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """Sub-directories with a step number in their name and a ``scores.json``, by step."""
    found: dict[int, Path] = {}
    for child in sorted(p for p in directory.iterdir() if p.is_dir()):
        match = STEP.search(child.name)
        if match is None or scores_dir(child) is None:
            continue
        step = int(match.group(1))
        if step in found:
            raise DataError(
                f"{directory}: {found[step].name} and {child.name} are both step {step}; "
                "keep one checkpoint per step"
            )
        found[step] = child
    return sorted(found.items())


def _no_scores(directory: Path, run: dict | None) -> DataError:
    why = ""
    if run is not None and run.get("status") not in (None, "ok", "timeout"):
        why = f" (run.json: status {run.get('status')!r}: {run.get('reason') or 'no reason'})"
    elif run is not None and not run.get("scored", True):
        why = " (run.json: the run was not scored)"
    return DataError(
        f"{directory}: no scores.json here, in {EVALUATION_DIR}/, or in a checkpoint "
        f"sub-directory with a step number in its name{why}; score it with lume-score evaluate"
    )


def load_result(directory: str | Path, name: str | None = None) -> Result:
    """One result directory in any of the three layouts (see the module docstring)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(
            f"{directory}: not a directory (give a lume-score evaluate --out or "
            "lume-score run --out directory)"
        )
    run = read_run(directory / RUN) if (directory / RUN).is_file() else None
    source = scores_dir(directory)
    steps: tuple[Checkpoint, ...] = ()
    if source is None:
        found = find_checkpoints(directory)
        if not found:
            raise _no_scores(directory, run)
        steps = tuple(Checkpoint(step, p.name, _scores(scores_dir(p))) for step, p in found)
        source = scores_dir(found[-1][1])
        scores = steps[-1].scores
    else:
        scores = _scores(source)
    return Result(
        name=name or directory.resolve().name,
        source=source,
        scores=scores,
        items=read_items(source / ITEMS) if (source / ITEMS).is_file() else None,
        mia=read_mia(source / MIA) if (source / MIA).is_file() else None,
        run=run,
        steps=steps,
    )


def unique_names(directories: Sequence[Path]) -> list[str]:
    """Each result is named after its directory; the same name twice gets the parent's too,
    then a number, so the report's legends never mix two results."""
    names = [Path(d).resolve().name for d in directories]
    longer = [
        f"{Path(d).resolve().parent.name}/{n}" if names.count(n) > 1 else n
        for d, n in zip(directories, names)
    ]
    return [f"{n} ({k + 1})" if longer.count(n) > 1 else n for k, n in enumerate(longer)]


def load_results(result_dir: Path, compare: Sequence[Path] = ()) -> list[Result]:
    """The result to report on first, then each result it is compared with."""
    directories = [Path(result_dir), *map(Path, compare)]
    return [load_result(d, n) for d, n in zip(directories, unique_names(directories))]


def subject_counts(result: Result) -> dict[str, dict] | None:
    """``{subject: {"correct": n, "questions": m}}``, or None when not recorded."""
    counts = (result.scores.get("mmlu_details") or {}).get("by_subject")
    return counts or None


def subject_accuracy(counts: dict | None) -> float:
    """One subject's accuracy; NaN for a subject without questions."""
    if not counts or not counts["questions"]:
        return float("nan")
    return counts["correct"] / counts["questions"]
