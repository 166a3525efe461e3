"""Loading results for the leaderboard: ``scores.json`` files and ``run.json`` run records.

Every file is checked before it is used; a bad one is a one-line :class:`LumeError`
naming the file and the field. Nothing here ranks or renders.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scorer.contract import RUN_STATUSES, SCORED_STATUSES
from scorer.data.reading import is_finite_number
from scorer.errors import LumeError
from scorer.official.score import final_score

NOT_EVALUATED = "not evaluated"  # a run that may be scored, but holds no scores
HEADLINE_KEYS = ("final_score", "task_aggregate", "mia_score", "mmlu")
FINAL_SCORE_TOLERANCE = 1e-3  # published rows are rounded to 3 digits
BOOTSTRAP = "beyond_official.bootstrap"


@dataclass(frozen=True)
class Entry:
    """One submission's result. ``scores`` is ``None`` when it was not scored.

    The run's figures come from ``run.json`` and are ``None`` without one;
    ``gpu_seconds`` is the busy GPU time NVML measured (0 when no GPU was granted, ``None``
    when it was not measured) and ``allocated_gpu_seconds`` the wall time × GPUs granted.
    """

    name: str
    source: str
    status: str
    scores: Mapping | None
    wall_seconds: float | None = None
    peak_memory_bytes: int | None = None
    gpu_seconds: float | None = None
    allocated_gpu_seconds: float | None = None
    reason: str | None = None


def _bad(path: Path, why: str) -> LumeError:
    return LumeError(f"{path}: {why}")


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise _bad(path, f"cannot read it ({err.strerror or err})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _bad(path, f"not valid JSON ({err})") from None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_interval(value: object, field: str, path: Path) -> None:
    ok = value is None or (
        isinstance(value, list)
        and len(value) == 2
        and all(is_finite_number(v) for v in value)
        and value[0] <= value[1]
    )
    if not ok:
        raise _bad(path, f"field {field!r} is {value!r}, expected [lo, hi] with lo <= hi, or null")


def check_bootstrap(scores: Mapping, path: Path) -> None:
    """``beyond_official.bootstrap``, when present: the final score's interval, its level,
    seed and replicate count, and (optional, written since the leaderboard pairs results)
    the per-replicate final scores and the digest of what was resampled."""
    beyond = scores.get("beyond_official")
    if beyond is None:
        return
    if not isinstance(beyond, dict):
        raise _bad(path, f"field 'beyond_official' is {type(beyond).__name__}, expected an object")
    boot = beyond.get("bootstrap")
    if boot is None:
        return
    if not isinstance(boot, dict):
        raise _bad(path, f"field {BOOTSTRAP!r} is {type(boot).__name__}, expected an object")
    _check_interval(boot.get("final_score"), f"{BOOTSTRAP}.final_score", path)
    count, seed, level = boot.get("replicates"), boot.get("seed"), boot.get("level")
    if not (_is_int(count) and count >= 1):
        raise _bad(path, f"field '{BOOTSTRAP}.replicates' is {count!r}, expected a count >= 1")
    if not _is_int(seed):
        raise _bad(path, f"field '{BOOTSTRAP}.seed' is {seed!r}, expected an integer")
    if not (is_finite_number(level) and 0.0 < level < 1.0):
        raise _bad(path, f"field '{BOOTSTRAP}.level' is {level!r}, expected a number in (0, 1)")
    replicates = boot.get("final_score_replicates")
    field = f"{BOOTSTRAP}.final_score_replicates"
    if replicates is not None:
        if not isinstance(replicates, list) or len(replicates) != count:
            raise _bad(path, f"field {field!r} is not a list of {count} (replicates) numbers")
        if not all(is_finite_number(v) and 0.0 <= v <= 1.0 for v in replicates):
            raise _bad(path, f"field {field!r} holds a value that is not a number in [0, 1]")
    digest = boot.get("resampled")
    if digest is not None and not isinstance(digest, str):
        raise _bad(path, f"field '{BOOTSTRAP}.resampled' is {digest!r}, expected a string")


def check_scores(scores: object, path: Path) -> dict:
    """A scores dict with the headline numbers (numbers or null), consistent with the formula."""
    if not isinstance(scores, dict):
        raise _bad(path, "expected a JSON object of scores (as written by lume-score evaluate)")
    missing = [key for key in HEADLINE_KEYS if key not in scores]
    if missing:
        raise _bad(path, f"missing score key(s) {', '.join(missing)}; is this a scores.json?")
    for key in (*HEADLINE_KEYS, "mia_auc", "mmlu_threshold"):
        value = scores.get(key)
        if value is not None and not (is_finite_number(value) and 0.0 <= value <= 1.0):
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
    check_bootstrap(scores, path)
    return scores


def _optional_number(record: Mapping, key: str, path: Path, field: str | None = None):
    value = record.get(key)
    if value is not None and not (is_finite_number(value) and value >= 0):
        raise _bad(path, f"field {field or key!r} is {value!r}, expected a number >= 0 or null")
    return value


def _gpu_seconds(run: dict, path: Path) -> tuple[float | None, float | None]:
    """(busy, allocated) GPU-seconds: (0, 0) when no GPU was granted (``gpu`` is null)."""
    gpu = run.get("gpu")
    if gpu is None:
        return 0.0, 0.0
    if not isinstance(gpu, dict):
        raise _bad(path, f"field 'gpu' is {type(gpu).__name__}, expected an object or null")
    busy = _optional_number(gpu, "gpu_seconds", path, "gpu.gpu_seconds")
    allocated = _optional_number(gpu, "allocated_gpu_seconds", path, "gpu.allocated_gpu_seconds")
    return busy, allocated


def _run_scores(run: dict, run_path: Path) -> dict | None:
    """The scores of a run that may be scored: in run.json, or in ``evaluation/`` beside it."""
    scores = run.get("scores")
    if scores is not None:
        return check_scores(scores, run_path)
    beside = run_path.parent / "evaluation" / "scores.json"
    if beside.is_file():
        return check_scores(_read_json(beside), beside)
    return None


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
    reason = run.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise _bad(run_path, f"field 'reason' is {reason!r}, expected a string or null")
    scores = None
    if scored and status in SCORED_STATUSES:
        scores = _run_scores(run, run_path)
        if scores is None:
            status = NOT_EVALUATED  # may be scored, but was not (run without --evaluate)
    elif status == "ok":
        status = "not scored"  # returned, yet the record says it is not to be scored
    busy, allocated = _gpu_seconds(run, run_path)
    return Entry(
        name=run_path.parent.resolve().name,
        source=str(run_path.parent),
        status=status,
        scores=scores,
        wall_seconds=_optional_number(run, "wall_seconds", run_path),
        peak_memory_bytes=_optional_number(run, "peak_memory_bytes", run_path),
        gpu_seconds=busy,
        allocated_gpu_seconds=allocated,
        reason=reason,
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
            raise _bad(
                path,
                "holds neither run.json (lume-score run) nor scores.json (lume-score evaluate)",
            )
    elif not path.is_file():
        raise _bad(path, "no such file or directory")
    scores = check_scores(_read_json(path), path)
    return Entry(name=path.parent.resolve().name, source=str(path), status="ok", scores=scores)


def load_results(paths: Iterable[str | Path]) -> list[Entry]:
    """Load every result; two results with the same name would be ambiguous."""
    entries = [load_result(p) for p in paths]
    seen: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.source):  # the same error in any order
        if entry.name in seen:
            raise LumeError(
                f"two results are named {entry.name!r} ({seen[entry.name]} and {entry.source}); "
                "entries are named after their directory, so rename one"
            )
        seen[entry.name] = entry.source
    return entries
