"""``lume-score run``: run a stranger's ``unlearn()`` under a budget and judge what it left.

One call (:func:`run_submission`) does what the official organizers did by hand:
1. checks the inputs (``scorer.sandbox.options``; a bad one is a ``LumeError``: exit 2,
   nothing written);
2. stages a work directory (``scorer.sandbox.staging``; inside ``OUT`` by default, so the
   checkpoint is renamed out of it for free);
3. starts the supervisor (``scorer.sandbox.supervisor``), which starts the child
   (``scorer.sandbox.child``), holds it to the wall-clock and memory budget, ends its whole
   process tree and accounts for CPU, memory and GPU;
4. moves the checkpoint to ``OUT/checkpoint``, removes what an unfinished save left
   (hidden entries), gives it back to the runner's user, validates it against the
   reference (``scorer.checkpoint.validate``), decides the verdict
   (``scorer.sandbox.verdict``) and, with ``evaluate``, scores it;
5. writes ``OUT/run.json`` atomically (``scorer.sandbox.record``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from scorer.checkpoint.validate import validate_checkpoint
from scorer.contract import DEADLINE_VARIABLE
from scorer.sandbox.isolation import (
    TMP_DIRS,
    interpreter_paths,
    plan_isolation,
    scrubbed_environment,
)
from scorer.sandbox.options import (
    EvaluateOptions,
    RunOptions,
    check_inputs,
    resolve_user,
    with_absolute_paths,
)
from scorer.sandbox.record import build_record, runner_record, write_record
from scorer.sandbox.staging import (
    SubmissionInputs,
    Work,
    remove_tree,
    settle,
    stage,
    take_checkpoint,
)
from scorer.sandbox.verdict import decide

GB = 10**9


def hidden_dirs(options: RunOptions) -> list[str]:
    """The directories the submission must not see: the shared temporary directories (a
    fresh one replaces each), ``--hide``'s and the held-out data of ``--evaluate``."""
    hide = (list(TMP_DIRS) if options.private_tmp else []) + [str(p) for p in options.hide]
    if options.evaluate is not None:
        ev = options.evaluate
        hide += [str(p) for p in (ev.data, ev.mia, ev.mmlu) if p is not None]
    return hide


def supervisor_spec(
    options: RunOptions, work: Work, env: dict[str, str], isolation_plan: dict, run_id: str
) -> dict:
    """What the supervisor is told (as JSON): the child to start and its spec, the budget,
    where to write the log and its result."""
    child_spec_path = str(work.control / "child.json")
    return {
        "argv": [sys.executable, "-I", "-m", "scorer.sandbox.child", child_spec_path],
        "env": env,
        "cwd": str(work.cwd),
        "child_spec_path": child_spec_path,
        "child": {
            "isolation": isolation_plan,
            "cwd": str(work.cwd),
            "submission": str(work.submission),
            "model": str(work.model),
            "output": str(work.output),
            "forget": str(work.forget),
            "retain": str(work.retain),
        },
        "log_path": str(options.out / "submission.log"),
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


def supervise(spec: dict, spec_path: Path) -> dict:
    """Run the supervisor as its own interpreter (its children's CPU time is then the
    submission's) and return its record; an interrupt here still ends the whole run."""
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


def run_submission(options: RunOptions, progress=None) -> dict:
    """Run, judge, write ``OUT/run.json``; return its content. Bad input raises LumeError."""
    started = time.time()
    options = with_absolute_paths(options)
    check_inputs(options)
    user = resolve_user(options)
    run_id = uuid.uuid4().hex
    out = options.out
    inputs = SubmissionInputs(
        submission=options.submission,
        model=options.model,
        forget=options.forget,
        retain=options.retain,
        forget_items=options.forget_items,
        retain_items=options.retain_items,
    )
    work = stage(inputs, options.work_dir or out, user, run_id)
    staged = time.time()
    try:
        isolation_plan = plan_isolation(
            options.namespaces, user, interpreter_paths() + [str(work.root)], hidden_dirs(options)
        )
        env = scrubbed_environment(
            os.environ, str(work.home), str(work.tmp), list(options.gpus), run_id, options.pass_env
        )
        spec = supervisor_spec(options, work, env, isolation_plan, run_id)
        supervision = supervise(spec, work.control / "supervisor.json")
        supervision["environment_names"] = sorted({*env, DEADLINE_VARIABLE})
        supervised = time.time()
        checkpoint, problems = take_checkpoint(work, out)
        removed = settle(checkpoint)
        report = validate_checkpoint(checkpoint, options.model, options.limits, progress)
        report.violations.extend(problems)
        validated = time.time()
        verdict = decide(supervision, report.ok, options.on_timeout)
        record = build_record(options, supervision, user, work, report, verdict)
        record["removed_leftovers"] = removed
        record["run_id"] = run_id
    finally:
        remove_tree(work.root)
    record["runner"] = runner_record(started, staged, supervised, validated, supervision)
    if options.evaluate is not None and verdict.scored:
        record["scores"] = _evaluate(checkpoint, options.evaluate, out, progress)
    write_record(out / "run.json", record)
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
