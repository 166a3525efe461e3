"""The bundle's scoring program: score what ingestion left, write Codabench's ``scores.json``.

Codabench's scoring step mounts the prediction step's output at ``/app/input/res`` and the
task's reference data at ``/app/input/ref``. This program reads the runner's
``run/run.json``; a run that is not to be scored (failed, over memory, invalid checkpoint)
ends here with its reason (exit 1, no scores). Otherwise the checkpoint's files are checked
against the hashes taken when it was frozen, scored with ``scorer.evaluation.evaluate`` on
the reference data (the fold that was unlearned, as the official protocol), and written:

- ``/app/output/scores.json``: one number per leaderboard column (``scorer.bundle.columns``);
- ``/app/output/lume/``: the full ``scores.json``, ``items.jsonl``, ``mia.jsonl`` and
  ``run.json``;
- ``/app/output/detailed_results.html``: the kit's report (``scorer.report``).
It never writes a file named ``metadata`` (the platform's own).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from scorer.bundle.columns import flat_scores
from scorer.bundle.task import RUN_DIR, TASK_FILE, AppDirs, app_dirs, located, read_task
from scorer.data.files import write_bytes_atomic
from scorer.errors import LumeError
from scorer.safe_text import html

DEVICE_VARIABLE = "LUME_DEVICE"  # auto (default), cpu, cuda, cuda:1 ...
DETAILS = "lume"
REPORT = "detailed_results.html"


def read_run(res: Path) -> dict:
    path = res / RUN_DIR / "run.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LumeError(f"{path}: not found (the ingestion program did not finish)") from None
    except (OSError, ValueError) as err:
        raise LumeError(f"{path}: cannot read JSON ({err})") from None
    if not isinstance(record, dict) or "scored" not in record:
        raise LumeError(f"{path}: not a run.json of lume-score run")
    return record


def log_progress(name: str, total: int):
    """A progress hook for the platform's log (plain lines, each tenth of a phase)."""
    print(f"{name}: {total} units", flush=True)
    done, shown = 0, 0

    def advance(n: int) -> None:
        nonlocal done, shown
        done += n
        tenth = done * 10 // max(total, 1)
        if tenth > shown:
            shown = tenth
            print(f"{name}: {done}/{total}", flush=True)

    return advance


def fallback_report(flat: dict[str, float], why: str) -> str:
    """A plain table of the leaderboard's numbers, when the kit's report cannot be made.
    Standard library only, not a template: it stands in when the report's dependencies
    (matplotlib, jinja2) are what failed; every value still escaped by ``safe_text.html``."""
    rows = "".join(
        f"<tr><td>{html(k)}</td><td>{html(f'{v:.4f}')}</td></tr>" for k, v in flat.items()
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>LUME scores</title></head>"
        f"<body><p>{html(why)}</p><table>{rows}</table></body></html>\n"
    )


def write_details(out: Path, details: Path, flat: dict[str, float]) -> None:
    """``detailed_results.html`` from the kit's report, else (and said so) a plain table."""
    try:
        from scorer.report import write_report
    except ImportError as err:
        print(f"warning: no report ({err}); a plain table instead", file=sys.stderr)
        write_bytes_atomic(out / REPORT, fallback_report(flat, "report unavailable").encode())
        return
    try:
        write_report(details, out / REPORT)
    except Exception as err:  # noqa: BLE001 - the score stands without its report
        print(f"warning: the report failed ({err}); a plain table instead", file=sys.stderr)
        write_bytes_atomic(out / REPORT, fallback_report(flat, "report failed").encode())


def score(dirs: AppDirs) -> dict[str, float] | None:
    """Score the run in ``dirs.res``; None when it is not to be scored (reason printed).
    Everything that can refuse is checked before torch is imported."""
    from scorer.sandbox.freeze import verify

    config = read_task(dirs.ref / TASK_FILE)
    record = read_run(dirs.res)
    if not record["scored"]:
        print(f"not scored: {record.get('status')}: {record.get('reason')}", file=sys.stderr)
        return None
    checkpoint = dirs.res / RUN_DIR / "checkpoint"
    changed = verify(checkpoint, record.get("checkpoint_sha256") or {})
    if changed:
        print(f"not scored: the checkpoint is not the one frozen: {'; '.join(changed[:5])}",
              file=sys.stderr)  # fmt: skip
        return None
    from scorer.evaluation.evaluate import evaluate
    from scorer.evaluation.settings import EvalSettings

    details = dirs.output / DETAILS
    settings = EvalSettings(
        fold=config.fold,
        unlearned_fold=config.fold,
        mmlu_threshold=config.mmlu_threshold,
        device=os.environ.get(DEVICE_VARIABLE, "auto"),
    )
    try:
        scores = evaluate(
            checkpoint,
            located(dirs.ref, config.data),
            details,
            located(dirs.ref, config.mia),
            located(dirs.ref, config.mmlu),
            settings,
            progress=log_progress,
        )
    except LumeError:
        raise  # the reference data's fault: bad input
    except Exception as err:  # noqa: BLE001 - a checkpoint that breaks the scorer is not scored
        print(f"not scored: the scorer failed on this checkpoint: {type(err).__name__}: {err}",
              file=sys.stderr)  # fmt: skip
        return None
    shutil.copyfile(dirs.res / RUN_DIR / "run.json", details / "run.json")
    flat = flat_scores(scores, record, gated=config.mmlu_threshold is not None)
    write_bytes_atomic(dirs.output / "scores.json", (json.dumps(flat, indent=2) + "\n").encode())
    write_details(dirs.output, details, flat)
    return flat


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-root", help="Codabench's /app (default: $LUME_CODABENCH_APP)")
    args = parser.parse_args(argv)
    try:
        flat = score(app_dirs(args.app_root))
    except LumeError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    if flat is None:
        return 1
    print(json.dumps(flat, indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover - the bundle's launcher calls main()
    sys.exit(main())
