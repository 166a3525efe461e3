"""``lume-score batch``: judge a whole challenge's submissions on a Ray cluster, resumable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import EXIT_FAILED, EXIT_OK, one_line_errors, stderr, stdout
from scorer.cli.options import ROOT_HELP, track_help

EXIT_INTERRUPTED = 130


@one_line_errors
def batch_command(
    submissions: Annotated[
        Path,
        typer.Argument(
            help="A directory: every *.py in it is a submission, named after its file; or a "
            "manifest (.toml/.json) of submission rows: team, file (relative to it), "
            "optional name."
        ),
    ],
    track: Annotated[
        str, typer.Option("--track", help=track_help("the model, data, budget and GPUs."))
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="RESULTS: one directory per submission (state.json, run/), the leaderboard; "
            "the same --out again continues the queue.",
        ),
    ],
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
    address: Annotated[
        str | None,
        typer.Option(
            "--address",
            help="Ray cluster to join (auto: the one this machine belongs to); "
            "default: start a local one.",
        ),
    ] = None,
    max_parallel: Annotated[
        int | None,
        typer.Option("--max-parallel", min=1, help="At most this many unlearn() runs at once."),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            help="Times a submission is started again after a lost worker "
            "or node (its own failures are final).",
        ),
    ] = 2,
    cpus: Annotated[
        float, typer.Option("--cpus", help="CPUs each unlearn() run and each scoring asks for.")
    ] = 1.0,
    local_cpus: Annotated[
        int | None,
        typer.Option("--local-cpus", min=1, help="CPUs of a local Ray instance (default: all)."),
    ] = None,
    time_limit: Annotated[
        float | None, typer.Option("--time-limit", help="Seconds (default: the track's).")
    ] = None,
    memory_limit: Annotated[
        float | None,
        typer.Option("--memory-limit", help="GB per run: its cap, and reserved on its node."),
    ] = None,
    gpu_memory_limit: Annotated[
        float | None, typer.Option("--gpu-memory-limit", help="GB per GPU (through NVML).")
    ] = None,
    on_timeout: Annotated[
        str, typer.Option("--on-timeout", help="score (the official rule) or discard.")
    ] = "score",
    grace: Annotated[
        float, typer.Option("--grace", help="Seconds between SIGTERM and SIGKILL.")
    ] = 3.0,
    isolation: Annotated[
        str, typer.Option("--isolation", help="bwrap, or none for trusted local runs only.")
    ] = "bwrap",
    pass_env: Annotated[
        list[str] | None,
        typer.Option("--pass-env", help="An environment variable to pass on (repeatable)."),
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="The scored fold (default: the track's).")
    ] = None,
    shots: Annotated[int, typer.Option("--shots", min=0, help="MMLU shots.")] = 5,
    mmlu_threshold: Annotated[
        float | None,
        typer.Option("--mmlu-threshold", help="Flag MMLU below this (default: the track's)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="Scoring device: auto, cpu, cuda.")] = (
        "auto"
    ),
    dtype: Annotated[str, typer.Option("--dtype", help="Scoring dtype: auto, float32...")] = "auto",
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the states and the leaderboard as JSON.")
    ] = False,
) -> None:
    """Judge every submission as `lume-score run --evaluate` does, on a Ray cluster.

    Each submission is two Ray tasks: its budgeted, sandboxed unlearn() run on the track's
    GPUs, then scoring on one GPU (none on a CPU track), so scoring one submission overlaps
    the next one's run and no GPU is given twice. RESULTS/<name>/state.json keeps its
    state (pending, running, done, failed), attempts and times: kill the driver and run the
    same command again to continue. A lost worker or node is retried --retries times, then
    recorded as an infrastructure failure; a submission's own failure is final.

    Writes RESULTS/leaderboard.md, .csv and .json at the end (ranked as `lume-score
    leaderboard`). Exit 0 when every submission was judged, 1 when the infrastructure
    gave up on one, 2 for bad input (nothing written).
    """
    from scorer.batch.prepare import ClusterChoices, prepare_batch
    from scorer.sandbox.options import EvalChoices

    batch = prepare_batch(
        submissions,
        out,
        track,
        root,
        run_options={
            "time_limit": time_limit,
            "memory_limit_gb": memory_limit,
            "gpu_memory_limit_gb": gpu_memory_limit,
            "on_timeout": on_timeout,
            "grace": grace,
            "isolation": isolation,
            "pass_env": tuple(pass_env or ()),
        },
        scoring=EvalChoices(None, None, None, split, shots, mmlu_threshold, device, dtype),
        cluster=ClusterChoices(address, max_parallel, retries, cpus, local_cpus),
    )
    from scorer.batch.driver import run_batch

    try:
        with _progress(len(batch.submissions), enabled=not json_output) as notify:
            outcome = run_batch(batch, notify)
    except KeyboardInterrupt:
        stderr.print(f"interrupted: run the same command again to continue {out}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    _report(outcome, out, json_output)
    infra = any(s.state == "failed" for s in outcome.states)
    raise typer.Exit(EXIT_FAILED if infra else EXIT_OK)


def _progress(total: int, enabled: bool):
    """A progress bar of judged submissions, its line the queue's counts and GPU-hours;
    shown from the first update (an error before it stays one line)."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bars():
        if not enabled:
            yield lambda _counts, _states: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with contextlib.ExitStack() as stack:
            shown: list = []

            def notify(counts, _states) -> None:
                if not shown:
                    progress = stack.enter_context(
                        Progress(*columns, TimeElapsedColumn(), console=stderr)
                    )
                    shown.append((progress, progress.add_task("queued", total=total)))
                progress, task = shown[0]
                line = (
                    f"pending {counts.pending} · unlearning {counts.unlearning} · scoring "
                    f"{counts.scoring} · done {counts.done} · failed {counts.failed} · "
                    f"{counts.gpu_hours:.2f} GPU-h"
                )
                progress.update(task, completed=counts.finished, description=line)

            yield notify

    return bars()


def _report(outcome, out: Path, json_output: bool) -> None:
    from scorer import leaderboard as lb
    from scorer.batch.results import result_paths, state_rows

    rows = state_rows(outcome.states)
    if json_output:
        body = {"results": str(out), "submissions": rows}
        body["leaderboard"] = lb.to_records(outcome.standings)
        print(json.dumps(body, indent=2))
        return
    from scorer.cli.tables import batch_table, leaderboard_table

    stdout.print(batch_table(rows))
    stdout.print(leaderboard_table(outcome.standings))
    for path in result_paths(out):
        stdout.print(f"wrote {path}")
