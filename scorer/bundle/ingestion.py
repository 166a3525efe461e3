"""The bundle's ingestion program: run the submission through the kit's runner, as Codabench asks.

Codabench's prediction step mounts the submission at ``/app/ingested_program``, the task's
input data at ``/app/input_data`` and an empty ``/app/output``; this program finds the one
``.py`` file of the submission and runs its ``unlearn()`` with ``run_submission`` (what
``lume-score run`` does) under the track's time limit, on the model and the forget/retain
sets named by ``lume-task.json``. The runner writes ``/app/output/run/`` (``run.json``, the
frozen ``checkpoint/``, ``submission.log``); the scoring step finds it in ``/app/input/res``.

A submission carrying its own ``metadata``/``metadata.yaml`` is refused: the compute worker
would run that file's command beside this program, outside the runner, with the same
output folder. Isolation: bubblewrap where it can create namespaces here, else none (on a
Codabench worker the container, with its capabilities dropped, is the boundary); set
``LUME_ISOLATION`` to force one. Exit 0 when the run left a checkpoint to score, 1 when
not (the reason printed), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from scorer.bundle.task import RUN_DIR, TASK_FILE, AppDirs, app_dirs, located, read_task
from scorer.errors import LumeError

ISOLATION_VARIABLE = "LUME_ISOLATION"  # auto (default), bwrap or none
GPUS_VARIABLE = "LUME_GPUS"  # e.g. "0,1"; default: the track's count of the GPUs seen here
PRESET_VARIABLE = "LUME_BASELINE_PRESET"  # the kit's baselines read their preset from it
PLATFORM_FILES = ("metadata", "metadata.yaml")


def find_submission(folder: Path) -> Path:
    """The submission's one ``.py`` file (anywhere in the unpacked zip)."""
    if not folder.is_dir():
        raise LumeError(f"{folder}: no submission (the platform mounts it there)")
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and "__MACOSX" not in p.parts]
    own = [p.relative_to(folder) for p in files if p.name in PLATFORM_FILES]
    if own:
        raise LumeError(
            f"submission holds {own[0]}: a submission is one .py file defining unlearn(), "
            "without a metadata file (the platform would run its command outside the runner)"
        )
    scripts = [p for p in files if p.suffix == ".py"]
    if len(scripts) != 1:
        names = ", ".join(str(p.relative_to(folder)) for p in scripts) or "none"
        raise LumeError(
            f"submission: expected exactly one .py file defining unlearn(), found {names}"
        )
    return scripts[0]


def choose_isolation(environ=os.environ) -> tuple[str, str | None]:
    """``bwrap`` where it works here, else ``none`` with the reason (``LUME_ISOLATION``
    forces either)."""
    asked = environ.get(ISOLATION_VARIABLE, "auto")
    if asked in ("bwrap", "none"):
        return asked, None
    if asked != "auto":
        raise LumeError(f"{ISOLATION_VARIABLE}={asked!r}: expected auto, bwrap or none")
    from scorer.sandbox.bwrap import find_bwrap, probe

    bwrap = find_bwrap()
    if bwrap is None:
        return "none", "bubblewrap is not installed in this image"
    complaint = probe(bwrap)
    return ("bwrap", None) if complaint is None else ("none", f"bubblewrap fails: {complaint}")


def granted_gpus(wanted: int, environ=os.environ) -> tuple[int, ...]:
    """``LUME_GPUS``, else the first ``wanted`` of the GPUs NVML sees, else of those the
    driver lists (a GPU host without ``pynvml`` still grants its GPUs; the run's record
    then says they were not accounted)."""
    from scorer.sandbox import nvidia
    from scorer.sandbox.options import parse_gpus

    if environ.get(GPUS_VARIABLE) is not None:
        return parse_gpus(environ[GPUS_VARIABLE])
    if wanted == 0:
        return ()
    try:
        import pynvml

        pynvml.nvmlInit()
        count = pynvml.nvmlDeviceGetCount()
    except Exception:  # noqa: BLE001 - no library or no NVML: the driver's own list
        count = len(nvidia.from_proc())
    return tuple(range(min(wanted, count)))


def run(dirs: AppDirs) -> dict:
    """Run the submission found in ``dirs`` as ``lume-task.json`` says; return run.json."""
    from scorer.sandbox.options import RunOptions
    from scorer.sandbox.runner import run_submission

    config = read_task(dirs.input_data / TASK_FILE)
    submission = find_submission(dirs.ingested_program)
    model = located(dirs.input_data, config.model)
    if not model.is_dir():
        where = "the docker image" if os.path.isabs(config.model) else "the input data"
        raise LumeError(f"the {config.track} target is not in {where}: {model} does not exist")
    isolation, why = choose_isolation()
    if why:
        print(f"notice: the submission runs without bubblewrap ({why})", file=sys.stderr)
    os.environ.setdefault(PRESET_VARIABLE, config.baseline_preset)
    options = RunOptions(
        submission=submission,
        model=model,
        out=dirs.output / RUN_DIR,
        time_limit=float(config.time_limit_seconds),
        forget=dirs.input_data / "forget",
        retain=dirs.input_data / "retain",
        gpus=granted_gpus(config.gpus),
        isolation=isolation,
        pass_env=(PRESET_VARIABLE,),
        track=config.track,
        unlearned_fold=config.fold,
    )
    record = run_submission(options)
    open_for_upload(options.out)
    return record


def open_for_upload(folder: Path) -> None:
    """Let the worker read what the runner wrote (the runner closes it to other users: on a
    shared judge, later runs must not read it; here the worker, whatever its user, uploads
    it for the scoring step, and nothing else shares the folder)."""
    for top, _dirs, files in os.walk(folder):
        os.chmod(top, 0o755)
        for name in files:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


def summary(record: dict) -> str:
    """A few lines for the platform's log: the verdict and the budget used."""
    keys = ("status", "reason", "scored", "wall_seconds", "time_limit_seconds", "exit_code")
    return json.dumps({k: record.get(k) for k in keys}, indent=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-root", help="Codabench's /app (default: $LUME_CODABENCH_APP)")
    args = parser.parse_args(argv)
    try:
        record = run(app_dirs(args.app_root))
    except LumeError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(summary(record))
    if not record["scored"]:
        print(f"not scored: {record['status']}: {record.get('reason')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover - the bundle's launcher calls main()
    sys.exit(main())
