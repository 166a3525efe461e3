"""``lume-score evaluate``: score a checkpoint the way the official script did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, progress_bars, stderr, stdout
from scorer.cli.options import ROOT_HELP, track_help
from scorer.cli.tables import beyond_table, scores_table, summary_table, timings_table
from scorer.contract import FOLDS
from scorer.errors import LumeError
from scorer.tracks.fill import TrackOptions, fill


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
        typer.Option(
            "--split",
            help="The fold to score (hub layout): the track's, else train. The official "
            "protocol scores the fold that unlearn() was given.",
        ),
    ] = None,
    unlearned_fold: Annotated[
        str | None,
        typer.Option(
            "--unlearned-fold",
            help="The fold unlearn() was given (default: the track's), recorded in scores.json; "
            "a warning when it is not the scored fold.",
        ),
    ] = None,
    track: Annotated[
        str | None,
        typer.Option(
            "--track",
            help=track_help(
                "fills --data, --mia, --mmlu, --split and --mmlu-threshold from --root "
                "(options given explicitly win)."
            ),
        ),
    ] = None,
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
    shots: Annotated[
        int, typer.Option("--shots", min=0, help="MMLU shots from the dev split.")
    ] = 5,
    max_new_tokens: Annotated[
        int, typer.Option("--max-new-tokens", min=1, help="Most tokens generated per item.")
    ] = 256,
    mmlu_threshold: Annotated[
        float | None,
        typer.Option("--mmlu-threshold", help="Flag MMLU below this (0.371 on the 7B track)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:1 ...")] = "auto",
    dtype: Annotated[
        str, typer.Option("--dtype", help="auto (bf16 on GPU, fp32 on CPU), float32, bfloat16.")
    ] = "auto",
    mmlu_dtype: Annotated[
        str,
        typer.Option(
            "--mmlu-dtype",
            help="MMLU's dtype: auto (the checkpoint's stored dtype, as open-instruct), "
            "float32, bfloat16.",
        ),
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
    repair: Annotated[
        bool,
        typer.Option(
            "--repair/--no-repair",
            help="Generate again, with the per-item loop, every item whose batched greedy path "
            "is not provably the per-item loop's (a near-tie between the two best tokens).",
        ),
    ] = True,
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
    components...), OUT/items.jsonl (one line per item with its generation and score),
    OUT/mia.jsonl and OUT/timings.json.

    Leave out --mia or --mmlu to skip them: the scores that need them are reported missing.
    """
    # heavy imports here, not at the top: --help must answer without torch
    from scorer.data.files import write_bytes_atomic
    from scorer.engine.parallel import current_world, leave
    from scorer.evaluation.evaluate import evaluate
    from scorer.evaluation.progress import PhaseTimer
    from scorer.evaluation.settings import EvalSettings

    given = TrackOptions(data=data, mia=mia, mmlu=mmlu, fold=split, mmlu_threshold=mmlu_threshold)
    track_fold = fill(TrackOptions(), track, root).options.fold
    filled = fill(given, track, root).options
    data, mia, mmlu = filled.data, filled.mia, filled.mmlu
    split, mmlu_threshold = filled.fold, filled.mmlu_threshold
    if data is None:
        raise LumeError("--data is needed (or --track to fill it in)")
    for option, value in (("--split", split), ("--unlearned-fold", unlearned_fold)):
        if value is not None and value not in FOLDS:
            raise LumeError(f"{option} {value!r}: expected one of {', '.join(FOLDS)}")
    settings = EvalSettings(
        fold=split or EvalSettings.fold,  # the default fold, defined once in EvalSettings
        unlearned_fold=unlearned_fold or track_fold,
        max_new_tokens=max_new_tokens,
        shots=shots,
        device=device,
        dtype=dtype,
        mmlu_dtype=mmlu_dtype,
        mmlu_threshold=mmlu_threshold,
        batch_tokens=batch_tokens,
        exact=exact,
        repair=repair,
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
    for warning in scores["warnings"]:
        stderr.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if json_output:
        print(json.dumps(scores, indent=2))
        return
    stdout.print(scores_table(scores))
    stdout.print(summary_table(scores))
    stdout.print(beyond_table(scores))
    stdout.print(timings_table(timer))
    for line in notes(scores):
        stdout.print(line)
    stdout.print(f"wrote {out / 'scores.json'}, items.jsonl, mia.jsonl and timings.json")


def notes(scores: dict) -> list[str]:
    """What the console says beside the tables: texts past the context (run whole, never
    cut), items the per-item loop generated again, and the dtypes."""
    out = []
    past = scores.get("past_context") or {}
    for what, counts in (
        ("prompts", past.get("items", {}).get("prompts")),
        ("input+output rows", past.get("items", {}).get("answer_rows")),
        ("MIA documents", past.get("mia_documents")),
    ):
        if counts and counts["count"]:
            out.append(
                f"{counts['count']} {what} exceed the model's context of {counts['context']} "
                f"tokens (the longest: {counts['longest']}); run whole, as the official loop"
            )
    repair = scores.get("repair")
    if repair and repair["method"] == "off" and repair["doubtful"]:
        out.append(
            f"--no-repair: {repair['doubtful']} of {repair['items']} items have a near-tie "
            f"(top-2 margin under {repair['threshold']:g} {repair['unit']}, {repair['dtype']}) "
            "and may differ from the per-item loop's"
        )
    if repair and repair["regenerated"]:
        out.append(
            f"{repair['regenerated']} of {repair['items']} items generated again by the "
            f"per-item loop (top-2 margin under {repair['threshold']:g} {repair['unit']}, "
            f"{repair['dtype']})"
        )
    dtypes = scores.get("dtypes")
    if dtypes:
        out.append(f"dtypes: items and MIA {dtypes['items']}, MMLU {dtypes['mmlu']}")
    return out
