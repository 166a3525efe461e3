"""``lume-score run``: run a stranger's ``unlearn()`` under a budget and judge what it left.

One call (:func:`run_submission`) does what the official organizers did by hand:
1. checks the inputs (a bad one is a ``LumeError``: exit 2, nothing written);
2. stages a work directory (inside ``OUT`` by default, so the checkpoint is renamed out
   of it for free): the submission file and the forget/retain sets as read-only copies,
   the model as read-only hard links (or copies), an output, HOME, TMPDIR and working
   directory owned by the unprivileged user;
3. starts the supervisor (``scorer.sandbox.supervisor``), which starts the child
   (``scorer.sandbox.child``), holds it to the wall-clock and memory budget, ends its whole
   process tree and accounts for CPU, memory and GPU;
4. moves the checkpoint to ``OUT/checkpoint``, removes what an unfinished save left
   (hidden entries), gives it back to the runner's user, validates it against the
   reference (``scorer.checkpoint.validate``) and, with ``evaluate``, scores it;
5. writes ``OUT/run.json`` atomically.

Statuses: ``ok`` (returned, checkpoint valid), ``invalid`` (returned, checkpoint missing
or invalid), ``timeout`` (killed at the time limit), ``oom`` (memory limit passed),
``failed`` (raised, could not be imported, has no usable ``unlearn``, crashed).
``scored``: ``ok``, or ``timeout`` with a valid checkpoint under the official rule
(``on_timeout="score"``); never after ``oom`` or ``failed``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from scorer import __version__
from scorer.checkpoint.validate import Limits, ValidationReport, load_reference
from scorer.checkpoint.validate import validate_checkpoint as validate
from scorer.contract import DEADLINE_VARIABLE, UNLEARN_ARGUMENTS, split_files
from scorer.data.files import write_bytes_atomic
from scorer.errors import LumeError
from scorer.sandbox.child import REASONS
from scorer.sandbox.isolation import (
    TMP_DIRS,
    interpreter_paths,
    is_secret,
    plan_mounts,
)
from scorer.sandbox.isolation import scrubbed_environment as make_environment
from scorer.sandbox.staging import Work, remove_tree, settle, stage, take_checkpoint

STATUSES = ("ok", "timeout", "failed", "oom", "invalid")
ON_TIMEOUT = ("score", "discard")
DEFAULT_USER = "nobody"
LOG_TAIL_CHARS = 4000
GB = 10**9


@dataclass(frozen=True)
class EvaluateOptions:
    """Where the held-out data lies and how to score (``scorer.evaluation.evaluate``)."""

    data: Path
    mia: Path | None = None
    mmlu: Path | None = None
    settings: object = None  # scorer.evaluation.settings.EvalSettings; None = its defaults


@dataclass(frozen=True)
class RunOptions:
    submission: Path
    model: Path
    out: Path
    time_limit: float
    forget: Path | None = None  # a directory holding forget.parquet and/or forget.jsonl
    retain: Path | None = None
    forget_items: tuple = ()  # or items to lay out (``--track`` without --forget/--retain)
    retain_items: tuple = ()
    gpus: tuple[int, ...] = ()
    memory_limit_gb: float | None = None
    gpu_memory_limit_gb: float | None = None
    on_timeout: str = "score"
    grace: float = 3.0
    user: str | None = DEFAULT_USER  # who runs the submission when the runner is root
    work_dir: Path | None = None  # default: OUT/.lume-work (same file system as OUT)
    hide: tuple[Path, ...] = ()  # directories the submission must not see
    namespaces: bool = True  # own mount + network namespaces
    private_tmp: bool = True  # fresh /tmp, /var/tmp, /dev/shm (needs namespaces)
    cgroups: bool = True
    pids_max: int | None = 16384
    log_max_bytes: int = 64 * 2**20
    pass_env: tuple[str, ...] = ()
    track: str | None = None
    limits: Limits = field(default_factory=Limits)
    evaluate: EvaluateOptions | None = None


# ---------------------------------------------------------------- input checks


def check_inputs(options: RunOptions) -> None:
    """Every bad input is found here, before anything is written."""
    sub = options.submission
    if not sub.is_file():
        raise LumeError(f"submission {sub}: no such file")
    if sub.suffix != ".py":
        raise LumeError(f"submission {sub}: expected a single .py file")
    if not options.model.is_dir():
        raise LumeError(f"--model {options.model}: no such directory")
    try:
        load_reference(options.model)  # an unusable reference is bad input, not the submission's
    except LumeError as err:
        raise LumeError(f"--model: not a usable reference: {err}") from None
    for split, directory, items in (
        ("forget", options.forget, options.forget_items),
        ("retain", options.retain, options.retain_items),
    ):
        if directory is None:
            if not items:
                raise LumeError(f"--{split}: a directory with {split}.parquet or .jsonl is needed")
            continue
        if not directory.is_dir():
            raise LumeError(f"--{split} {directory}: no such directory")
        if not any(p.is_file() for p in split_files(directory, split)):
            raise LumeError(f"--{split} {directory}: holds neither {split}.parquet nor .jsonl")
    if not options.time_limit > 0:
        raise LumeError(f"--time-limit {options.time_limit}: must be positive")
    if options.grace < 0:
        raise LumeError(f"--grace {options.grace}: must not be negative")
    if options.on_timeout not in ON_TIMEOUT:
        raise LumeError(f"--on-timeout {options.on_timeout}: expected score or discard")
    for name, value in (
        ("--memory-limit", options.memory_limit_gb),
        ("--gpu-memory-limit", options.gpu_memory_limit_gb),
    ):
        if value is not None and not value > 0:
            raise LumeError(f"{name} {value}: must be positive (GB)")
    for name in options.pass_env:
        if is_secret(name):
            raise LumeError(f"--pass-env {name}: looks like a secret; it is never passed")
    out = options.out
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LumeError(f"--out {out}: exists and is not an empty directory")
    if options.evaluate is not None:
        from scorer.evaluation.evaluate import load_inputs
        from scorer.evaluation.settings import EvalSettings

        ev = options.evaluate
        settings = ev.settings or EvalSettings()
        load_inputs(ev.data, ev.mia, ev.mmlu, settings.fold)
    _user(options)


def _user(options: RunOptions) -> dict | None:
    """The account that runs the submission: only when the runner is root."""
    if os.geteuid() != 0 or not options.user:
        return None
    try:
        entry = pwd.getpwnam(options.user)
    except KeyError:
        raise LumeError(f"--user {options.user}: no such user") from None
    if entry.pw_uid == 0:
        return None
    return {"name": entry.pw_name, "uid": entry.pw_uid, "gid": entry.pw_gid}


def parse_gpus(text: str | None) -> tuple[int, ...]:
    """``"0,1"`` -> (0, 1); empty or None -> no GPU."""
    if not text or not text.strip():
        return ()
    try:
        gpus = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise LumeError(f"--gpus {text!r}: expected device indices such as 0,1") from None
    if any(g < 0 for g in gpus) or len(set(gpus)) != len(gpus):
        raise LumeError(f"--gpus {text!r}: indices must be distinct and non-negative")
    return gpus


# ---------------------------------------------------------------- verdict


def decide(supervision: dict, validation_ok: bool, on_timeout: str) -> tuple[str, str | None, bool]:
    """(status, reason, scored) from how the run ended and whether its checkpoint is valid."""
    ended_by, code = supervision["ended_by"], supervision["exit_code"]
    errors = [e for e in supervision.get("events", []) if e.get("event") == "error"]
    detail = errors[0].get("error") if errors else None
    if ended_by == "timeout":
        limit = supervision["deadline"] - supervision["start"]
        reason = f"still running at the time limit ({limit:g} s): process tree ended"
        if not validation_ok:
            reason += "; the checkpoint present is not valid"
        return "timeout", reason, validation_ok and on_timeout == "score"
    if ended_by == "oom":
        memory = supervision["memory"]
        what = "GPU memory" if memory.get("gpu_over_limit") else "memory"
        return "oom", f"{what} passed the limit ({memory.get('limit_bytes')} bytes)", False
    if ended_by == "interrupted":
        return "failed", "the run was interrupted by the organizer", False
    if code == 0:
        if validation_ok:
            return "ok", None, True
        return "invalid", "unlearn() returned but the checkpoint is missing or invalid", False
    if code in REASONS:
        return "failed", REASONS[code] + (f": {detail}" if detail else ""), False
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return "failed", f"the submission was killed by {name}", False
    return "failed", f"the submission exited with code {code}", False


def _log_tail(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - LOG_TAIL_CHARS * 4))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return text[-LOG_TAIL_CHARS:]


def _isolation(supervision: dict, user: dict | None, options: RunOptions, work: Work) -> dict:
    reports = [e for e in supervision.get("events", []) if e.get("event") == "isolation"]
    report = {k: v for k, v in reports[0].items() if k not in ("event", "at")} if reports else {}
    notes = []
    if os.geteuid() != 0:
        notes.append(
            "the runner is not root: the submission ran as the runner's own user, so "
            "read-only copies and the runner's own files were protected by nothing but "
            "permissions it could change"
        )
    elif user is None:
        notes.append("the submission ran as root (--user root): nothing was out of its reach")
    if not reports:
        notes.append("the child reported no isolation (it ended before isolating)")
    return {
        "runner_uid": os.geteuid(),
        "user": report.get("user"),
        "network": report.get("network", {"cut": False, "why": "unknown"}),
        "mounts": report.get("mounts"),
        "no_new_privs": report.get("no_new_privs"),
        "new_session": True,
        "subreaper": True,
        "cgroups": supervision["cgroups"],
        "child_in_cgroup": supervision["child_in_cgroup"],
        "kill_methods": supervision["kill_methods"],
        "inputs": {
            "model": f"read-only {work.model_staging}",
            "forget_retain": "read-only copies",
            "submission": "read-only copy",
        },
        "gpus": {
            "granted": list(options.gpus),
            "fenced": False,
            "why": "only CUDA_VISIBLE_DEVICES limits the devices; the device files of other "
            "GPUs are not closed to the submission",
        },
        "environment": sorted(supervision.get("environment_names", [])),
        "notes": notes,
    }


# ---------------------------------------------------------------- the run


def _supervise(spec: dict, spec_path: Path) -> dict:
    spec_path.write_text(json.dumps(spec))
    spec_path.chmod(0o600)
    argv = [sys.executable, "-I", "-m", "scorer.sandbox.supervisor", str(spec_path)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    try:
        code = process.wait()
    except BaseException:
        process.send_signal(signal.SIGTERM)  # it ends the submission's tree, then exits
        process.wait()
        raise
    result = Path(spec["result_path"])
    if code != 0 or not result.is_file():
        raise RuntimeError(f"the supervisor failed (exit code {code}); see its stderr above")
    return json.loads(result.read_text())


def _hidden_dirs(options: RunOptions) -> list[str]:
    hide = (list(TMP_DIRS) if options.private_tmp else []) + [str(p) for p in options.hide]
    if options.evaluate is not None:
        ev = options.evaluate
        hide += [str(p) for p in (ev.data, ev.mia, ev.mmlu) if p is not None]
    return hide


def absolute(options: RunOptions) -> RunOptions:
    """Every path made absolute: the child works in another directory."""

    def fix(path: Path | None) -> Path | None:
        return None if path is None else Path(os.path.abspath(path))

    ev = options.evaluate
    if ev is not None:
        ev = replace(ev, data=fix(ev.data), mia=fix(ev.mia), mmlu=fix(ev.mmlu))
    return replace(
        options,
        submission=fix(options.submission),
        model=fix(options.model),
        out=fix(options.out),
        forget=fix(options.forget),
        retain=fix(options.retain),
        work_dir=fix(options.work_dir),
        hide=tuple(fix(p) for p in options.hide),
        evaluate=ev,
    )


def run_submission(options: RunOptions, progress=None) -> dict:
    """Run, judge, write ``OUT/run.json``; return its content. Bad input raises LumeError."""
    started = time.time()
    options = absolute(options)
    check_inputs(options)
    user = _user(options)
    run_id = uuid.uuid4().hex
    out = options.out
    work = stage(options, user, run_id)
    staged = time.time()
    try:
        isolation_plan = {
            "namespaces": options.namespaces,
            "user": user,
            "why_no_user": "the runner is not root" if os.geteuid() != 0 else "--user root",
            "mounts": plan_mounts(
                interpreter_paths() + [str(work.root)],
                _hidden_dirs(options),
                user["uid"] if user else None,
                user["gid"] if user else None,
            ),
        }
        env = make_environment(
            os.environ, str(work.home), str(work.tmp), list(options.gpus), run_id, options.pass_env
        )
        spec = {
            "argv": [
                sys.executable,
                "-I",
                "-m",
                "scorer.sandbox.child",
                str(work.control / "child.json"),
            ],
            "env": env,
            "cwd": str(work.cwd),
            "child_spec_path": str(work.control / "child.json"),
            "child": {
                "isolation": isolation_plan,
                "cwd": str(work.cwd),
                "submission": str(work.submission),
                "model": str(work.model),
                "output": str(work.output),
                "forget": str(work.forget),
                "retain": str(work.retain),
            },
            "log_path": str(out / "submission.log"),
            "log_max_bytes": options.log_max_bytes,
            "result_path": str(work.control / "supervision.json"),
            "time_limit": options.time_limit,
            "grace": options.grace,
            "memory_limit": int(options.memory_limit_gb * GB) if options.memory_limit_gb else None,
            "gpu_memory_limit": (
                int(options.gpu_memory_limit_gb * GB) if options.gpu_memory_limit_gb else None
            ),
            "pids_max": options.pids_max,
            "use_cgroups": options.cgroups,
            "cgroup_name": f"lume-{run_id}",
            "gpus": list(options.gpus),
            "run_id": run_id,
            "runner_pid": os.getpid(),
        }
        supervision = _supervise(spec, work.control / "supervisor.json")
        supervision["environment_names"] = sorted({*env, DEADLINE_VARIABLE})
        supervised = time.time()
        checkpoint, problems = take_checkpoint(work, out)
        removed = settle(checkpoint)
        report: ValidationReport = validate(checkpoint, options.model, options.limits, progress)
        report.violations.extend(problems)
        validated = time.time()
        status, reason, scored = decide(supervision, report.ok, options.on_timeout)
        record = _record(options, supervision, user, work, report, status, reason, scored)
        record["removed_leftovers"] = removed
        record["run_id"] = run_id
    finally:
        remove_tree(work.root)
    record["runner"] = {
        "version": __version__,
        "started_at": datetime.fromtimestamp(started, timezone.utc).isoformat(),
        "staging_seconds": staged - started,
        "supervisor_overhead_seconds": (supervised - staged) - supervision["wall_seconds"],
        "validation_seconds": validated - supervised,
        "overhead_seconds": (validated - started) - supervision["wall_seconds"],
    }
    if options.evaluate is not None and scored:
        record["scores"] = _evaluate(checkpoint, options.evaluate, out, progress)
    _write(out / "run.json", record)
    return record


def _evaluate(checkpoint: Path, ev: EvaluateOptions, out: Path, progress) -> dict:
    from scorer.evaluation.evaluate import evaluate
    from scorer.evaluation.progress import no_progress
    from scorer.evaluation.settings import EvalSettings

    return evaluate(
        checkpoint,
        ev.data,
        out / "evaluation",
        ev.mia,
        ev.mmlu,
        ev.settings or EvalSettings(),
        progress or no_progress,
    )


def _write(path: Path, record: dict) -> None:
    write_bytes_atomic(path, (json.dumps(record, indent=2) + "\n").encode("utf-8"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(options, supervision, user, work, report, status, reason, scored) -> dict:
    memory = supervision["memory"]
    peak = max(  # the largest of the measures: each misses something the others see
        memory["peak_cgroup_bytes"] or 0,
        memory["peak_rss_sum_bytes"],
        memory["max_rss_one_process_bytes"],
    )
    return {
        "submission": options.submission.name,
        "submission_sha256": _sha256(work.submission),
        "track": options.track,
        "status": status,
        "reason": reason,
        "exit_code": supervision["exit_code"],
        "ended_by": supervision["ended_by"],
        "scored": scored,
        "on_timeout": options.on_timeout,
        "time_limit_seconds": options.time_limit,
        "grace_seconds": options.grace,
        "wall_seconds": supervision["wall_seconds"],
        "returned_after_seconds": supervision["returned_after_seconds"],
        "seconds_after_deadline": supervision["seconds_after_deadline"],
        "cpu_seconds": supervision["cpu_seconds"],
        "cpu_user_seconds": supervision["cpu_user_seconds"],
        "cpu_system_seconds": supervision["cpu_system_seconds"],
        "peak_memory_bytes": peak,
        "memory": memory,
        "gpu": supervision["gpu"] if options.gpus else None,
        "processes_signalled": supervision["processes_signalled"],
        "survivors": supervision["survivors"],
        "isolation": _isolation(supervision, user, options, work),
        "validation": report.to_json(),
        "scores": None,
        "log": {
            "file": "submission.log",
            "bytes": supervision["log_bytes"],
            "truncated": supervision["log_truncated"],
            "tail": _log_tail(options.out / "submission.log"),
        },
        "events": [e for e in supervision["events"] if e.get("event") != "isolation"][:20],
        "unlearn_arguments": list(UNLEARN_ARGUMENTS),
    }
