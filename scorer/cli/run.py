"""``lume-score run``: run a submission's unlearn() under a budget, as the organizers did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import EXIT_FAILED, EXIT_OK, one_line_errors, progress_bars, stdout
from scorer.cli.options import ROOT_HELP, track_help
from scorer.cli.tables import run_table, summary_table


@one_line_errors
def run_command(
    submission: Annotated[
        Path, typer.Argument(help="The submission: one .py file defining the official unlearn().")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="New or empty directory for run.json and the rest.")
    ],
    model: Annotated[
        Path | None, typer.Option("--model", help="Target model directory (the reference).")
    ] = None,
    forget: Annotated[
        Path | None, typer.Option("--forget", help="Directory with forget.parquet / .jsonl.")
    ] = None,
    retain: Annotated[
        Path | None, typer.Option("--retain", help="Directory with retain.parquet / .jsonl.")
    ] = None,
    time_limit: Annotated[
        float | None,
        typer.Option("--time-limit", help="Seconds unlearn() may run (1 hour officially)."),
    ] = None,
    gpus: Annotated[
        str | None,
        typer.Option("--gpus", help="GPU indices granted, e.g. 0,1 (default: track's, or none)."),
    ] = None,
    memory_limit: Annotated[
        float | None,
        typer.Option("--memory-limit", help="GB (10^9 bytes) of memory for the whole tree."),
    ] = None,
    gpu_memory_limit: Annotated[
        float | None,
        typer.Option("--gpu-memory-limit", help="GB per GPU (enforced through NVML)."),
    ] = None,
    disk_limit: Annotated[
        float | None,
        typer.Option(
            "--disk-limit",
            help="GB the run may write in its output, HOME and working directory (polled, "
            "and no file larger; default: the track's).",
        ),
    ] = None,
    on_timeout: Annotated[
        str,
        typer.Option(
            "--on-timeout",
            help="score: a valid checkpoint left at the limit is scored (the official rule); "
            "discard: it is not.",
        ),
    ] = "score",
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds between SIGTERM and SIGKILL.")
    ] = 3.0,
    track: Annotated[
        str | None,
        typer.Option(
            "--track",
            help=track_help(
                "fills --model, --forget, --retain, --time-limit, --disk-limit, --gpus (and "
                "the --evaluate data) from --root."
            ),
        ),
    ] = None,
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
    isolation: Annotated[
        str,
        typer.Option(
            "--isolation",
            help="bwrap: the submission sees only its inputs, the interpreter and its own "
            "directories (needs bubblewrap); none: no view, only for a trusted local run.",
        ),
    ] = "bwrap",
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Where to stage the run (default: inside --out)."),
    ] = None,
    pass_env: Annotated[
        list[str] | None,
        typer.Option("--pass-env", help="An environment variable to pass on (repeatable)."),
    ] = None,
    run_evaluate: Annotated[
        bool, typer.Option("--evaluate", help="Score the checkpoint when it is to be scored.")
    ] = False,
    data: Annotated[
        Path | None, typer.Option("--data", help="--evaluate: the (held-out) LUME data.")
    ] = None,
    mia: Annotated[Path | None, typer.Option("--mia", help="--evaluate: MIA directory.")] = None,
    mmlu: Annotated[Path | None, typer.Option("--mmlu", help="--evaluate: MMLU directory.")] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="--evaluate: the fold (default the track's).")
    ] = None,
    shots: Annotated[int, typer.Option("--shots", min=0, help="--evaluate: MMLU shots.")] = 5,
    mmlu_threshold: Annotated[
        float | None, typer.Option("--mmlu-threshold", help="--evaluate: flag MMLU below this.")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="--evaluate: auto, cpu, cuda...")] = (
        "auto"
    ),
    dtype: Annotated[str, typer.Option("--dtype", help="--evaluate: auto, float32...")] = "auto",
    json_output: Annotated[bool, typer.Option("--json", help="Print run.json to stdout.")] = False,
) -> None:
    """Run a submission's unlearn() under a time, memory and GPU budget, and judge it.

    The submission runs under bubblewrap: it sees only the interpreter, its read-only
    inputs and its own directories; own PID, network, IPC, UTS and mount namespaces; a uid
    of its own; no capability; a seccomp filter; a scrubbed environment (HF offline). At
    the time limit its whole process tree is ended (SIGTERM, --grace, SIGKILL).

    The checkpoint it left is validated; with --evaluate it is scored. Writes OUT/run.json
    (status ok, timeout, failed, oom or invalid; wall, CPU, memory, GPU; isolation;
    validation; scores), OUT/submission.log and OUT/checkpoint.

    Exit 0 when ok (or timed out with a checkpoint to be scored), 1 otherwise, 2 for bad
    input (nothing written).
    """
    from scorer.sandbox import options as rc
    from scorer.sandbox.runner import run_submission

    choices = None
    if run_evaluate:
        choices = rc.EvalChoices(data, mia, mmlu, split, shots, mmlu_threshold, device, dtype)
    options = rc.build_options(
        submission,
        out,
        model,
        forget,
        retain,
        time_limit,
        gpus,
        track,
        root,
        choices,
        memory_limit_gb=memory_limit,
        gpu_memory_limit_gb=gpu_memory_limit,
        disk_limit_gb=disk_limit,
        on_timeout=on_timeout,
        grace=grace,
        isolation=isolation,
        work_dir=work_dir,
        pass_env=tuple(pass_env or ()),
    )
    with progress_bars(enabled=not json_output) as bars:
        record = run_submission(options, bars)
    if json_output:
        print(json.dumps(record, indent=2))
    else:
        from scorer.safe_text import terminal_record

        shown = terminal_record(record)  # the submission's strings, escaped
        stdout.print(run_table(shown))
        if record["scores"] is not None:
            stdout.print(summary_table(record["scores"]))
        stdout.print(f"wrote {out / 'run.json'}")
    # 0 when the run ends ok, or at a timeout with a checkpoint that will be scored
    raise typer.Exit(EXIT_OK if record["status"] == "ok" or record["scored"] else EXIT_FAILED)
