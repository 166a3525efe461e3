"""``lume-score leaderboard``: rank results as the official SemEval-2025 Task 4 leaderboard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer import leaderboard as lb
from scorer.cli.console import one_line_errors, stdout
from scorer.cli.options import ROOT_HELP, track_help
from scorer.cli.tables import leaderboard_table
from scorer.tracks.fill import TrackOptions, fill


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
        typer.Option("--track", help=track_help("its MMLU threshold (1B: none).")),
    ] = None,
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
) -> None:
    """Rank results by final score, as the official SemEval-2025 Task 4 leaderboard did.

    Ties share a rank (1, 2, 2, 4). Entries with MMLU below the threshold are flagged and
    listed after the ranking, unranked; runs that were not scored (failed, oom, invalid,
    not evaluated) are listed last with their status.
    """
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
