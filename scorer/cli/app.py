"""``lume-score``: the judge's command line (Typer + rich)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from scorer.cli.console import EXIT_FAILED, EXIT_OK, one_line_errors, progress_bars, stdout
from scorer.cli.tables import (
    beyond_table,
    leaderboard_table,
    run_table,
    scores_table,
    summary_table,
    timings_table,
)
from scorer.data.files import write_bytes_atomic
from scorer.engine.parallel import current_world, leave
from scorer.errors import LumeError
from scorer.evaluation.evaluate import evaluate
from scorer.evaluation.progress import PhaseTimer
from scorer.evaluation.settings import EvalSettings
from scorer.tracks.fill import TrackOptions, fill

app = typer.Typer(
    help="Score LUME unlearning submissions exactly as SemEval-2025 Task 4 did, only faster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Score LUME unlearning submissions exactly as SemEval-2025 Task 4 did, only faster."""


@app.command("evaluate")
@one_line_errors
def evaluate_command(
    model_dir: Annotated[Path, typer.Argument(help="Hugging Face checkpoint directory to score.")],
    out: Annotated[Path, typer.Option("--out", help="Directory for scores.json and items.jsonl.")],
    data: Annotated[
        Path | None,
        typer.Option("--data", help="LUME data: hub layout or forget/retain files."),
    ] = None,
    mia: Annotated[
        Path | None, typer.Option("--mia", help="Directory with member.jsonl and nonmember.jsonl.")
    ] = None,
    mmlu: Annotated[
        Path | None, typer.Option("--mmlu", help="MMLU directory (CSV or hub parquet layout).")
    ] = None,
    split: Annotated[
        str | None,
        typer.Option("--split", help="Fold of the hub layout: validation (default) or train."),
    ] = None,
    track: Annotated[
        str | None,
        typer.Option(
            "--track",
            help="mini, 1B, 7B or a .toml file: fills --data, --mia, --mmlu, --split and "
            "--mmlu-threshold from --root (options given explicitly win).",
        ),
    ] = None,
    root: Annotated[Path, typer.Option("--root", help="Where the track's dirs lie.")] = Path("."),
    shots: Annotated[
        int, typer.Option("--shots", min=0, help="MMLU shots from the dev split.")
    ] = 5,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 256,
    mmlu_threshold: Annotated[
        float | None,
        typer.Option("--mmlu-threshold", help="Flag MMLU below this (0.371 on the 7B track)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16.")
    ] = "auto",
    batch_tokens: Annotated[
        int | None,
        typer.Option(
            "--batch-tokens",
            min=256,
            help="Token budget of one batch (memory only); default: from the free memory.",
        ),
    ] = None,
    exact: Annotated[
        bool,
        typer.Option(
            "--exact", help="The official per-item loop (batch of one, model.generate): slow."
        ),
    ] = False,
    check_exact: Annotated[
        int,
        typer.Option(
            "--check-exact",
            min=0,
            help="Re-generate N random items the official way; write the agreement.",
        ),
    ] = 0,
    bootstrap: Annotated[
        int,
        typer.Option("--bootstrap", min=0, help="Bootstrap replicates for 95% intervals (0: off)."),
    ] = 1000,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Keep finished batches in OUT/cache: a killed run resumes where it stopped.",
        ),
    ] = True,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print scores.json to stdout.")
    ] = False,
) -> None:
    """Generate greedily for every item, run the MIA and MMLU, and write the official score.

    Writes OUT/scores.json (final_score, task_aggregate, mia_auc, mia_score, mmlu, the 12
    components...) and OUT/items.jsonl (one line per item with its generation and score).
    Leave out --mia or --mmlu to skip them: the scores that need them are reported missing.
    """
    given = TrackOptions(data=data, mia=mia, mmlu=mmlu, fold=split, mmlu_threshold=mmlu_threshold)
    filled = fill(given, track, root).options
    data, mia, mmlu = filled.data, filled.mia, filled.mmlu
    split, mmlu_threshold = filled.fold, filled.mmlu_threshold
    if data is None:
        raise LumeError("--data is needed (or --track to fill it in)")
    settings = EvalSettings(
        fold=split or "validation",
        max_new_tokens=max_new_tokens,
        shots=shots,
        device=device,
        dtype=dtype,
        mmlu_threshold=mmlu_threshold,
        batch_tokens=batch_tokens,
        exact=exact,
        check_exact=check_exact,
        bootstrap=bootstrap,
    )
    timer = PhaseTimer()
    world = current_world()
    main_process = world.is_main
    with progress_bars(enabled=not json_output and main_process) as bars:
        scores = evaluate(
            model_dir, data, out, mia, mmlu, settings, bars, timer, out / "cache" if cache else None
        )
    leave(world)
    if not main_process:
        return
    write_bytes_atomic(
        out / "timings.json", (json.dumps(timer.to_json(), indent=2) + "\n").encode()
    )
    if json_output:
        print(json.dumps(scores, indent=2))
        return
    stdout.print(scores_table(scores))
    stdout.print(summary_table(scores))
    stdout.print(beyond_table(scores))
    stdout.print(timings_table(timer))
    stdout.print(f"wrote {out / 'scores.json'}, items.jsonl, mia.jsonl and timings.json")


@app.command("validate")
@one_line_errors
def validate_command(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint directory a submission left.")],
    reference: Annotated[
        Path, typer.Option("--reference", help="The target model directory it must match.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON to stdout.")
    ] = False,
) -> None:
    """Check that a checkpoint may be loaded and scored, without loading it.

    Safetensors only (pickle and code files are refused unopened), no symlinks or remote
    code, config and tokenizer equal to the reference's, same tensor names and shapes,
    every value finite (streamed), sizes within limits. Exit 0 if valid, 1 with every
    violation listed, 2 if the reference is unusable or CHECKPOINT is not a directory.
    """
    from scorer.checkpoint.validate import validate_checkpoint

    with progress_bars(enabled=not json_output) as bars:
        report = validate_checkpoint(checkpoint, reference, progress=bars)
    if json_output:
        print(json.dumps(report.to_json(), indent=2))
    else:
        if report.violations:
            table = Table(title=f"{len(report.violations)} violation(s)", box=box.SIMPLE_HEAD)
            for name in ("rule", "file", "tensor", "message"):
                table.add_column(name, overflow="fold")
            for v in report.violations:
                table.add_row(v.rule, v.file, v.tensor or "", v.message)
            stdout.print(table)
        for note in report.notes:
            stdout.print(f"note: {note}", highlight=False)
        verdict = "[green]valid[/green]" if report.ok else "[red]INVALID[/red]"
        stdout.print(
            f"{checkpoint}: {verdict} ({report.tensors_checked} tensors, "
            f"{report.bytes_checked / 2**20:.1f} MiB checked in {report.seconds:.1f}s)",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("leaderboard")
@one_line_errors
def leaderboard_command(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="scores.json files, or directories holding run.json (lume-score run) "
            "or scores.json; each entry is named after its directory."
        ),
    ],
    mmlu_threshold: Annotated[
        float | None,
        typer.Option(
            "--mmlu-threshold",
            help="Leave out of the ranking entries whose MMLU is below this (0.371 on the 7B "
            "track); default: each result's own threshold, none on the 1B track.",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the leaderboard as JSON to stdout.")
    ] = False,
    markdown: Annotated[
        Path | None, typer.Option("--markdown", help="Also write a Markdown table here.")
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Also write a full-precision CSV here.")
    ] = None,
    track: Annotated[
        str | None,
        typer.Option(
            "--track", help="mini, 1B, 7B or a .toml file: its MMLU threshold (1B: none)."
        ),
    ] = None,
    root: Annotated[
        Path, typer.Option("--root", help="Where the track's dirs lie (mini: its build).")
    ] = Path("."),
) -> None:
    """Rank results by final score, as the official SemEval-2025 Task 4 leaderboard did.

    Ties share a rank (1, 2, 2, 4). Entries with MMLU below the threshold are flagged and
    listed after the ranking, unranked; runs that were not scored (failed, oom, invalid,
    not evaluated) are listed last with their status.
    """
    from scorer import leaderboard as lb
    from scorer.data.files import write_bytes_atomic

    if mmlu_threshold is None:
        mmlu_threshold = fill(TrackOptions(), track, root).options.mmlu_threshold
    standings = lb.rank(lb.load_results(results), mmlu_threshold)
    if markdown is not None:
        write_bytes_atomic(markdown, lb.to_markdown(standings).encode("utf-8"))
    if csv_file is not None:
        write_bytes_atomic(csv_file, lb.to_csv(standings).encode("utf-8"))
    if json_output:
        records = lb.to_records(standings)
        print(json.dumps({"mmlu_threshold": mmlu_threshold, "entries": records}, indent=2))
        return
    stdout.print(leaderboard_table(standings))
    for path in (p for p in (markdown, csv_file) if p is not None):
        stdout.print(f"wrote {path}")


@app.command("run")
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
            help="mini, 1B, 7B or a .toml file: fills --model, --forget, --retain, "
            "--time-limit, --gpus (and the --evaluate data) from --root.",
        ),
    ] = None,
    root: Annotated[Path, typer.Option("--root", help="Where the track's dirs lie.")] = Path("."),
    user: Annotated[
        str, typer.Option("--user", help="Unprivileged user the submission runs as (when root).")
    ] = "nobody",
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Where to stage the run (default: inside --out)."),
    ] = None,
    hide: Annotated[
        list[Path] | None,
        typer.Option("--hide", help="A directory the submission must not see (repeatable)."),
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

    The submission runs in a child process: its own session, a scrubbed environment (no
    tokens or credentials; HF offline), an unprivileged user when run as root, no network,
    private /tmp, read-only copies of its inputs. At the time limit its whole process tree
    is ended (SIGTERM, --grace, SIGKILL). The checkpoint it left is validated; with
    --evaluate it is scored. Writes OUT/run.json (status ok, timeout, failed, oom or
    invalid; wall, CPU, memory, GPU; isolation; validation; scores), OUT/submission.log
    and OUT/checkpoint. Exit 0 when ok (or timed out with a checkpoint to be scored).
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
        on_timeout=on_timeout,
        grace=grace,
        user=user,
        work_dir=work_dir,
        hide=tuple(hide or ()),
        pass_env=tuple(pass_env or ()),
    )
    with progress_bars(enabled=not json_output) as bars:
        record = run_submission(options, bars)
    if json_output:
        print(json.dumps(record, indent=2))
    else:
        stdout.print(run_table(record))
        if record["scores"] is not None:
            stdout.print(summary_table(record["scores"]))
        stdout.print(f"wrote {out / 'run.json'}")
    # 0 when the run ends ok, or at a timeout with a checkpoint that will be scored
    raise typer.Exit(EXIT_OK if record["status"] == "ok" or record["scored"] else EXIT_FAILED)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
