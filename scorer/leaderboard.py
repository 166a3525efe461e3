"""The leaderboard: load results, rank them as the official challenge did, render them.

Ranking follows SemEval-2025 Task 4: by final score, descending; entries whose MMLU falls
below the track's threshold are flagged and kept out of the ranking (listed after it,
unranked); runs that produced no score (failed, out of memory, invalid checkpoint, never
evaluated) come last with their status. Ties share a rank ("1, 2, 2, 4") and are compared
on the exact stored final score, not on its rounded display.

Loading (I/O) is separate from :func:`rank` (pure), which is separate from rendering.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from scorer.errors import LumeError
from scorer.official.score import final_score, mmlu_passed

RUN_STATUSES = ("ok", "timeout", "failed", "oom", "invalid")
SCORED_STATUSES = ("ok", "timeout")  # a timed-out run's last checkpoint is still scored
HEADLINE_KEYS = ("final_score", "task_aggregate", "mia_score", "mmlu")
FINAL_SCORE_TOLERANCE = 1e-3  # published rows are rounded to 3 digits

RANKED, BELOW_THRESHOLD, INCOMPLETE, UNSCORED = (
    "ranked",
    "below_threshold",
    "incomplete",
    "unscored",
)
GROUP_ORDER = (RANKED, BELOW_THRESHOLD, INCOMPLETE, UNSCORED)


@dataclass(frozen=True)
class Entry:
    """One submission's result. ``scores`` is ``None`` when it was not scored."""

    name: str
    source: str
    status: str
    scores: Mapping | None
    wall_seconds: float | None = None
    peak_memory_bytes: int | None = None


@dataclass(frozen=True)
class Standing:
    """An entry's place: ``rank`` is ``None`` outside the ranking (see ``group``)."""

    rank: int | None
    group: str
    entry: Entry
    flags: tuple[str, ...]
    mmlu_threshold: float | None
    mmlu_passed: bool | None


# ----------------------------------------------------------------- loading


def _bad(path: Path, why: str) -> LumeError:
    return LumeError(f"{path}: {why}")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise _bad(path, f"cannot read it ({err.strerror or err})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _bad(path, f"not valid JSON ({err})") from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_scores(scores: object, path: Path) -> dict:
    """A scores dict with the headline numbers (numbers or null), consistent with the formula."""
    if not isinstance(scores, dict):
        raise _bad(path, "expected a JSON object of scores (as written by lume-score evaluate)")
    missing = [key for key in HEADLINE_KEYS if key not in scores]
    if missing:
        raise _bad(path, f"missing score key(s) {', '.join(missing)}; is this a scores.json?")
    for key in (*HEADLINE_KEYS, "mia_auc", "mmlu_threshold"):
        value = scores.get(key)
        if value is not None and not (_is_number(value) and 0.0 <= value <= 1.0):
            raise _bad(path, f"field {key!r} is {value!r}, expected a number in [0, 1] or null")
    if scores["task_aggregate"] is None:
        raise _bad(path, "field 'task_aggregate' is null; every scored result has one")
    expected = final_score(scores["task_aggregate"], scores["mia_score"], scores["mmlu"])
    stated = scores["final_score"]
    if (expected is None) != (stated is None) or (
        expected is not None and abs(expected - stated) > FINAL_SCORE_TOLERANCE
    ):
        raise _bad(
            path,
            f"final_score {stated} is not the mean of task_aggregate, mia_score and mmlu "
            f"({expected}); the file was edited or comes from another formula",
        )
    return scores


def _optional_number(run: dict, key: str, path: Path) -> float | None:
    value = run.get(key)
    if value is not None and not _is_number(value):
        raise _bad(path, f"field {key!r} is {value!r}, expected a number or null")
    return value


def _load_run(run_path: Path) -> Entry:
    run = _read_json(run_path)
    if not isinstance(run, dict):
        raise _bad(run_path, "expected a JSON object (as written by lume-score run)")
    status = run.get("status")
    if status not in RUN_STATUSES:
        raise _bad(run_path, f"field 'status' is {status!r}, expected one of {RUN_STATUSES}")
    scored = run.get("scored")
    if not isinstance(scored, bool):
        raise _bad(run_path, f"field 'scored' is {scored!r}, expected true or false")
    scores = None
    if scored and status in SCORED_STATUSES:
        scores = run.get("scores")
        if scores is not None:
            scores = check_scores(scores, run_path)
        else:
            beside = run_path.parent / "evaluation" / "scores.json"
            if not beside.is_file():
                raise _bad(run_path, f"says scored but holds no scores and there is no {beside}")
            scores = check_scores(_read_json(beside), beside)
    name = run_path.parent.resolve().name
    return Entry(
        name=name,
        source=str(run_path.parent),
        status=status if scores is not None or status not in SCORED_STATUSES else "not scored",
        scores=scores,
        wall_seconds=_optional_number(run, "wall_seconds", run_path),
        peak_memory_bytes=_optional_number(run, "peak_memory_bytes", run_path),
    )


def load_result(path: str | Path) -> Entry:
    """A ``scores.json`` file, or a directory holding ``run.json`` (preferred) or ``scores.json``.

    The entry is named after the directory (a file's parent directory).
    """
    path = Path(path)
    if path.is_dir():
        if (path / "run.json").is_file():
            return _load_run(path / "run.json")
        if (path / "scores.json").is_file():
            path = path / "scores.json"
        else:
            raise _bad(path, "holds neither run.json (lume-score run) nor scores.json")
    elif not path.is_file():
        raise _bad(path, "no such file or directory")
    scores = check_scores(_read_json(path), path)
    return Entry(name=path.parent.resolve().name, source=str(path), status="ok", scores=scores)


def load_results(paths: Iterable[str | Path]) -> list[Entry]:
    """Load every result; two results with the same name would be ambiguous."""
    entries = [load_result(p) for p in paths]
    seen: dict[str, str] = {}
    for entry in entries:
        if entry.name in seen:
            raise LumeError(
                f"two results are named {entry.name!r} ({seen[entry.name]} and {entry.source}); "
                "entries are named after their directory, so rename one"
            )
        seen[entry.name] = entry.source
    return entries


# ----------------------------------------------------------------- ranking


def _final(entry: Entry) -> float:
    return entry.scores["final_score"]  # type: ignore[index]


def rank(entries: Sequence[Entry], mmlu_threshold: float | None = None) -> list[Standing]:
    """Order ``entries`` into ranked, below-threshold, incomplete and unscored groups.

    ``mmlu_threshold`` overrides each result's own ``mmlu_threshold``; with neither, no
    entry is filtered (the 1B track). Ranked entries get competition ranks by final
    score; within a tie, and in every other group, entries are ordered by name.
    """
    standings: list[Standing] = []
    for entry in entries:
        if entry.scores is None:
            standings.append(Standing(None, UNSCORED, entry, (entry.status,), None, None))
            continue
        threshold = (
            mmlu_threshold if mmlu_threshold is not None else entry.scores.get("mmlu_threshold")
        )
        passed = mmlu_passed(entry.scores["mmlu"], threshold)
        flags = []
        if passed is False:
            flags.append(f"MMLU below {threshold:g}")
        if entry.scores["final_score"] is None:
            flags.append("incomplete: no MIA or MMLU")
        if entry.status == "timeout":
            flags.append("timed out")
        if entry.scores["final_score"] is None:
            group = INCOMPLETE
        elif passed is False:
            group = BELOW_THRESHOLD
        else:
            group = RANKED
        standings.append(Standing(None, group, entry, tuple(flags), threshold, passed))

    def order(s: Standing) -> tuple:
        final = -_final(s.entry) if s.group in (RANKED, BELOW_THRESHOLD) else 0.0
        return (GROUP_ORDER.index(s.group), final, s.entry.name)

    standings.sort(key=order)
    finals = [_final(s.entry) for s in standings if s.group == RANKED]
    return [
        replace(s, rank=1 + sum(f > _final(s.entry) for f in finals)) if s.group == RANKED else s
        for s in standings
    ]


# ----------------------------------------------------------------- rendering


def _score(s: Standing, key: str) -> float | None:
    return None if s.entry.scores is None else s.entry.scores.get(key)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def format_duration(seconds: float | None) -> str:
    """``12.3s``, ``4m05s``, ``1h02m03s``; empty when unknown."""
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def to_records(standings: Sequence[Standing]) -> list[dict]:
    """One JSON-ready dict per standing, in leaderboard order."""
    return [
        {
            "rank": s.rank,
            "name": s.entry.name,
            "group": s.group,
            "status": s.entry.status,
            "flags": list(s.flags),
            **{
                key: _score(s, key)
                for key in ("final_score", "task_aggregate", "mia_auc", "mia_score", "mmlu")
            },
            "mmlu_threshold": s.mmlu_threshold,
            "mmlu_passed": s.mmlu_passed,
            "wall_seconds": s.entry.wall_seconds,
            "peak_memory_bytes": s.entry.peak_memory_bytes,
            "source": s.entry.source,
        }
        for s in standings
    ]


def leaderboard_rows(standings: Sequence[Standing], digits: int = 4) -> list[list[str]]:
    keys = ("final_score", "task_aggregate", "mia_score", "mmlu")
    return [
        [
            "" if s.rank is None else str(s.rank),
            s.entry.name,
            *(_fmt(_score(s, key), digits) for key in keys),
            "; ".join(s.flags),
            format_duration(s.entry.wall_seconds),
        ]
        for s in standings
    ]


COLUMNS = ("rank", "name", "final", "task agg.", "MIA score", "MMLU", "flags", "wall time")


def to_markdown(standings: Sequence[Standing]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in names escaped)."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---:" if c not in ("name", "flags") else "---" for c in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in leaderboard_rows(standings)]
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "rank",
    "name",
    "status",
    "final_score",
    "task_aggregate",
    "mia_auc",
    "mia_score",
    "mmlu",
    "mmlu_threshold",
    "mmlu_passed",
    "flags",
    "wall_seconds",
    "peak_memory_bytes",
)


def to_csv(standings: Sequence[Standing]) -> str:
    """Full-precision CSV (empty cells for unknown values), one row per standing."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for record in to_records(standings):
        row = {key: record[key] for key in CSV_FIELDS}
        row["flags"] = "; ".join(record["flags"])
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
