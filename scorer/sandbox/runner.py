"""``lume-score run``: run a stranger's ``unlearn()`` under a budget and judge what it left.

One call (:func:`run_submission`) does what the official organizers did by hand:
1. checks the inputs (``scorer.sandbox.options``; a bad one is a ``LumeError``: exit 2,
   nothing written) and reserves the run's own uid (``scorer.sandbox.identity``);
2. stages a work directory (``scorer.sandbox.staging``) and the submission's view of the
   machine (``scorer.sandbox.bwrap``: a whitelist; ``--isolation none`` for a trusted run);
3. starts the supervisor (``scorer.sandbox.supervisor``), which starts the child
   (``scorer.sandbox.child``), holds it to the wall-clock and memory budget, ends its whole
   process tree and accounts for CPU, memory and GPU;
4. once no process of the run is left, freezes the checkpoint into new root-owned files
   with their hashes (``scorer.sandbox.freeze``), validates that copy in a process of
   its own under limits (``scorer.sandbox.validator``, started early so that its imports
   overlap the submission's run), decides the verdict (``scorer.sandbox.verdict``) and,
   with ``evaluate``, scores exactly the hashed bytes;
5. writes ``OUT/run.json`` atomically (``scorer.sandbox.record``). Everything it writes is
   root's (umask 077): no later run can read it.
Whatever the submission did, the run ends with a ``run.json`` and a status.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from scorer.checkpoint.limits import total_limit
from scorer.checkpoint.names import CONFIG
from scorer.checkpoint.reference import load_reference
from scorer.checkpoint.report import ValidationReport, Violation
from scorer.checkpoint.scan import DEFAULT_SCORING_DTYPES
from scorer.contract import DEADLINE_VARIABLE
from scorer.sandbox import bwrap, disk
from scorer.sandbox.facts import bounded
from scorer.sandbox.freeze import FreezeLimits, Frozen, freeze, verify
from scorer.sandbox.identity import Lease, end_processes_of, lease_uid
from scorer.sandbox.isolation import RunUser, scrubbed_environment
from scorer.sandbox.nvidia import Gpu, granted_gpus, visible_devices
from scorer.sandbox.options import EvaluateOptions, RunOptions, check_inputs, with_absolute_paths
from scorer.sandbox.record import (
    build_record,
    reserve_record_space,
    runner_record,
    write_record,
)
from scorer.sandbox.seccomp import compile_filter
from scorer.sandbox.staging import SubmissionInputs, Work, remove_tree, stage
from scorer.sandbox.supervisor import SECCOMP_FD_PLACEHOLDER, failed_result
from scorer.sandbox.terminal import one_line
from scorer.sandbox.validator import Validator
from scorer.sandbox.verdict import Verdict, decide

GB = 10**9
HOST_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS)
INSIDE = bwrap.SANDBOX_ROOT  # where the staged files are seen inside the sandbox


def sandbox_paths(work: Work, isolation: str) -> dict[str, str]:
    """The paths the child is handed: under ``/lume`` inside bwrap, the host's without."""
    if isolation != "bwrap":
        names = ("cwd", "submission", "model", "output", "forget", "retain", "home", "tmp")
        return {name: str(getattr(work, name)) for name in names}
    return {
        "cwd": f"{INSIDE}/cwd",
        "submission": f"{INSIDE}/submission.py",
        "model": f"{INSIDE}/model",
        "output": f"{INSIDE}/outbox/checkpoint",
        "forget": f"{INSIDE}/forget",
        "retain": f"{INSIDE}/retain",
        "home": f"{INSIDE}/home",
        "tmp": "/tmp",
    }


def sandbox_view(options: RunOptions, work: Work, gpus: list[Gpu] | None = None) -> bwrap.View:
    """The whitelist: the interpreter and packages, the staged inputs, the run's own dirs
    (and the granted GPUs' files)."""
    gpus = gpus or []
    read_only = [(p, p) for p in bwrap.interpreter_paths()]
    read_only += [
        (str(work.submission), f"{INSIDE}/submission.py"),
        (str(work.model), f"{INSIDE}/model"),
        (str(work.forget), f"{INSIDE}/forget"),
        (str(work.retain), f"{INSIDE}/retain"),
    ]
    writable = [
        (str(work.output.parent), f"{INSIDE}/outbox"),
        (str(work.home), f"{INSIDE}/home"),
        (str(work.cwd), f"{INSIDE}/cwd"),
    ]
    memory = int(options.memory_limit_gb * GB) if options.memory_limit_gb else None
    return bwrap.View(
        read_only=tuple(read_only),
        writable=tuple(writable),
        devices=bwrap.gpu_devices(gpus),
        tmpfs_bytes=memory,
        cwd=INSIDE,  # the child enters its own cwd once it is the run's user
        gpu_proc=bwrap.gpu_proc_entries(gpus),
    )


def child_command(
    options: RunOptions, work: Work, user: RunUser | None, gpus: list[Gpu] | None = None
) -> tuple[list[str], dict, str | None]:
    """The child's argv prefix (the spec is appended by the supervisor), the isolation
    plan for run.json, and the seccomp program's file (None: no filter)."""
    python = [sys.executable, "-I", "-m", "scorer.sandbox.child"]
    table = [asdict(g) for g in gpus or []]
    if options.isolation != "bwrap":
        plan = {"mode": "none", "why": "--isolation none (a trusted, local run)", "gpus": table}
        return python, plan, None
    program, how = compile_filter()
    seccomp_path = None
    if program is not None:
        seccomp_path = str(work.control / "seccomp.bpf")
        Path(seccomp_path).write_bytes(program)
    files = {}
    uid, gid = (user.uid, user.gid) if user else (os.getuid(), os.getgid())
    for name, content in bwrap.etc_files(uid, gid).items():
        host = work.control / Path(name).name
        host.write_text(content)
        host.chmod(0o444)
        files[name] = str(host)
    view = sandbox_view(options, work, gpus)
    executable = bwrap.find_bwrap()
    argv = bwrap.bwrap_argv(
        executable, view, files, SECCOMP_FD_PLACEHOLDER if seccomp_path else None, python
    )
    if os.geteuid() != 0:  # no privileges to drop: a user namespace gives the rest
        userns = ["--unshare-user"] + (["--disable-userns"] * bwrap.can_disable_userns(argv[0]))
        argv = [argv[0], *userns, *[a for a in argv[1:] if a not in _CAP_ADDS]]
    plan = {
        "mode": "bwrap",
        "bwrap": executable,
        "asked": asked_isolation(seccomp_path is not None),
        "die_with_parent": True,
        "new_session": True,
        "seccomp": {"installed": seccomp_path is not None, "how": how},
        "visible": {
            "read_only": sorted({t for _, t in view.read_only} | {"/usr", "/etc/ld.so.cache"}),
            "writable": [t for _, t in view.writable],
            "private_tmpfs": list(bwrap.PRIVATE_TMPFS),
            "tmpfs_bytes": view.tmpfs_bytes,
            "devices": list(view.devices),
            "sys": "read-only" if view.devices else None,
            "gpu_proc": list(view.gpu_proc),
            "etc": sorted(files),
        },
        "gpus": table,
    }
    return argv, plan, seccomp_path


_CAP_ADDS = {"--cap-add", *bwrap.KEPT_CAPABILITIES}


def asked_isolation(seccomp: bool) -> dict:
    """What the bwrap command asks the kernel for, in the terms the child reads back
    (``scorer.sandbox.facts``): run.json's ``isolation.lost`` is what of this is not found."""
    root = os.geteuid() == 0
    return {
        "namespaces": ["cgroup", "ipc", "mnt", "net", "pid", "uts"] + ([] if root else ["user"]),
        "network_cut": True,
        "seccomp": seccomp,
        "no_new_privs": True,
        "new_session": True,
        "die_with_parent": True,
        "drop_capabilities": True,  # every set, bounding included (emptied by the child)
    }


def disk_limit(options: RunOptions) -> int | None:
    """``--disk-limit`` in bytes (None: not limited)."""
    return int(options.disk_limit_gb * GB) if options.disk_limit_gb else None


def supervisor_spec(
    options: RunOptions,
    work: Work,
    env: dict[str, str],
    argv: list[str],
    seccomp_path: str | None,
    user: RunUser | None,
    run_id: str,
) -> dict:
    """What the supervisor is told (as JSON): the child to start and its spec, the budget,
    where to write the log and its result."""
    paths = sandbox_paths(work, options.isolation)
    return {
        "argv": argv,
        "seccomp_path": seccomp_path,
        "env": env,
        "cwd": str(work.cwd),
        "child": {
            "user": {"name": user.name, "uid": user.uid, "gid": user.gid} if user else None,
            "nproc": options.pids_max if user else None,  # only a uid of its own counts the run
            "fsize": disk_limit(options),  # no one file past the disk limit
            **{k: paths[k] for k in ("cwd", "submission", "model", "output", "forget", "retain")},
        },
        "log_path": str(options.out / "submission.log"),
        "log_max_bytes": options.log_max_bytes,
        "result_path": str(work.control / "supervision.json"),
        "time_limit": options.time_limit,
        "grace": options.grace,
        "memory_limit": int(options.memory_limit_gb * GB) if options.memory_limit_gb else None,
        "disk_limit": disk_limit(options),
        "disk_paths": [str(work.output.parent), str(work.home), str(work.cwd)],
        "gpu_memory_limit": (
            int(options.gpu_memory_limit_gb * GB) if options.gpu_memory_limit_gb else None
        ),
        "pids_max": options.pids_max,
        "private_tmpfs": options.isolation == "bwrap",
        "use_cgroups": options.cgroups,
        "cgroup_name": f"lume-{run_id}",
        "gpus": list(options.gpus),
        "run_id": run_id,
        "runner_pid": os.getpid(),
    }


def supervise(spec: dict, spec_path: Path) -> dict:
    """Run the supervisor as its own interpreter (its children's CPU time is then the
    submission's) and return its record; an interrupt here still ends the whole run.
    Raises ``RuntimeError`` when the supervisor itself failed."""
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
        raise RuntimeError(f"the supervisor failed (exit code {code}); see its stderr")
    return json.loads(result.read_text())


def _freeze(
    work: Work, out: Path, options: RunOptions, spec: dict
) -> tuple[Frozen, Verdict | None]:
    """The frozen checkpoint, and a verdict where the disk decides it: the run's files past
    the disk limit at the end (the submission's fault), or the disk giving out while the
    checkpoint is copied (the submission's fault if its files are past the limit, else the
    host's: ``judge-error``; the partial copy removed). The run still gets its record."""
    target = out / "checkpoint"
    limit = spec.get("disk_limit")
    used = disk.used_bytes(spec["disk_paths"], limit)
    over = limit is not None and used > limit
    try:
        frozen = freeze(work.output, target, _freeze_limits(options))
    except OSError as err:
        remove_tree(target)
        target.mkdir(mode=0o700)
        fault = "invalid" if over else "judge-error"
        reason = f"the judge could not freeze the checkpoint: {one_line(err)}"
        if over:
            reason = f"the run's files passed the disk limit ({limit} bytes): {one_line(err)}"
        return Frozen(target), Verdict(fault, reason, False)
    if over:
        reason = f"the run's files passed the disk limit ({limit} bytes) by its end"
        return frozen, Verdict("invalid", reason, False)
    return frozen, None


def _freeze_limits(options: RunOptions) -> FreezeLimits:
    reference = load_reference(options.model)
    return FreezeLimits(max_total_bytes=total_limit(reference, options.limits))


def scoring_dtypes(options: RunOptions) -> tuple[str, ...]:
    """The dtypes ``--evaluate`` will load the weights in: bf16/fp32 unless told float16
    (config.json's own dtype is added by the validation itself)."""
    settings = options.evaluate.settings if options.evaluate is not None else None
    asked = {getattr(settings, "dtype", "auto"), getattr(settings, "mmlu_dtype", "auto")}
    return tuple(sorted({*DEFAULT_SCORING_DTYPES, *(asked - {"auto"})}))


def _validate(
    validator: Validator, frozen: Frozen, options: RunOptions, progress
) -> tuple[ValidationReport, dict]:
    """The frozen copy's validation, in the validator's own limited process, and that
    process's record; a validator that fails is an invalid checkpoint with the reason,
    never a crash of the judge."""
    try:
        outcome = validator.validate(
            frozen.path,
            frozen.total_bytes,
            options.limits,
            scoring_dtypes(options),
            progress,
            frozen.sha256.get(CONFIG),
        )
        report, error, process = outcome.report, outcome.error, outcome.process
    except Exception as err:  # noqa: BLE001 - the judge's own failure: still a verdict
        report, error, process = None, f"validation failed: {one_line(err)}", {}
    if report is None:
        report = ValidationReport(str(frozen.path), str(options.model), [], 0, 0, 0.0)
        report.violations.append(Violation("validator-error", "", str(error)))
    report.violations[:0] = frozen.violations
    return report, process


def run_submission(options: RunOptions, progress=None) -> dict:
    """Run, judge, write ``OUT/run.json``; return its content. Bad input raises LumeError."""
    started = time.time()
    options = with_absolute_paths(options)
    check_inputs(options)
    gpus = granted_gpus(options.gpus)  # an index the machine lacks is bad input (exit 2)
    previous = os.umask(0o077)  # every file the judge writes is its own
    try:
        isolated = options.isolation == "bwrap" and os.geteuid() == 0
        lease = lease_uid() if isolated else None  # none: a trusted run, as the runner
        try:
            return _run(options, progress, started, lease, gpus)
        finally:
            if lease is not None:
                lease.release()
    finally:
        os.umask(previous)


def _run(
    options: RunOptions, progress, started: float, lease: Lease | None, gpus: list[Gpu]
) -> dict:
    user = lease.user if lease else None
    run_id = uuid.uuid4().hex
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    out.chmod(0o700)
    reserve_record_space(out)  # run.json is written even if the disk fills up
    inputs = SubmissionInputs(
        submission=options.submission,
        model=options.model,
        forget=options.forget,
        retain=options.retain,
        forget_items=options.forget_items,
        retain_items=options.retain_items,
    )
    work = stage(inputs, options.work_dir or out, user, run_id)
    validator = Validator(options.model, work.control / "validator", options.validator)
    staged = time.time()
    try:
        validator.start()  # its imports overlap the submission's run
        argv, plan, seccomp_path = child_command(options, work, user, gpus)
        paths = sandbox_paths(work, options.isolation)
        env = scrubbed_environment(
            os.environ, paths["home"], paths["tmp"], list(options.gpus), run_id, options.pass_env
        )
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = visible_devices(gpus)  # by UUID when known
        spec = supervisor_spec(options, work, env, argv, seccomp_path, user, run_id)
        try:
            supervision = supervise(spec, work.control / "supervisor.json")
        except RuntimeError as err:
            supervision = failed_result(spec, str(err), staged)
        code = supervision["exit_code"]
        if options.isolation == "bwrap" and code is not None and code > 128:
            supervision["exit_code"] = 128 - code  # bwrap's 128+N: killed by signal N
        added = {DEADLINE_VARIABLE} | ({"PWD"} if options.isolation == "bwrap" else set())
        supervision["environment_names"] = sorted({*env, *added})  # PWD: bwrap's --chdir
        supervision["uid_processes_left"] = end_processes_of(user.uid) if user else []
        supervised = time.time()
        frozen, fault = _freeze(work, out, options, spec)
        report, process = _validate(validator, frozen, options, progress)
        validated = time.time()
        why = report.violations[0].message if report.violations else None
        verdict = decide(supervision, report.ok, options.on_timeout, why)
        if fault is not None and supervision["ended_by"] != "disk":  # ended for it already
            verdict = fault
        record = build_record(options, supervision, user, work, report, verdict, plan)
        record["validation"]["process"] = process
        record["removed_leftovers"] = bounded(frozen.removed)
        record["checkpoint_sha256"] = frozen.sha256
        record["run_id"] = run_id
    finally:
        validator.close()
        remove_tree(work.root)
        out.chmod(0o700)
    record["runner"] = runner_record(started, staged, supervised, validated, supervision)
    if options.evaluate is not None and verdict.scored:
        record.update(score_frozen(frozen.path, frozen.sha256, options.evaluate, out, progress))
    write_record(out / "run.json", record)
    return record


def score_frozen(checkpoint: Path, sha256: dict[str, str], ev: EvaluateOptions, out: Path,
                 progress=None) -> dict:  # fmt: skip
    """Score exactly the frozen bytes (their hashes checked again first); a checkpoint that
    breaks the scorer is not scored, and says why. What to merge into ``run.json``; also
    ``lume-score batch``'s scoring task."""
    changed = verify(checkpoint, sha256)
    if changed:
        reason = f"the checkpoint changed after it was judged: {'; '.join(changed[:5])}"
        return {"status": "invalid", "reason": reason, "scored": False, "scores": None}
    try:
        return {"scores": _evaluate(checkpoint, ev, out, progress)}
    except OSError as err:
        if err.errno in HOST_ERRNOS:  # a full or broken disk is the host's, not the checkpoint's
            reason = f"the judge could not write the scores: {one_line(err)}"
            return {"status": "judge-error", "reason": reason, "scored": False, "scores": None}
        reason = f"the checkpoint broke scoring: {one_line(err)}"
        return {"status": "invalid", "reason": reason, "scored": False, "scores": None}
    except Exception as err:  # noqa: BLE001 - the checkpoint's fault, recorded as such
        reason = f"the checkpoint broke scoring: {one_line(err)}"
        return {"status": "invalid", "reason": reason, "scored": False, "scores": None}


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
