"""``lume-score leaderboard``: rank results as the official SemEval-2025 Task 4 leaderboard."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer

from scorer import leaderboard as lb
from scorer.cli.console import one_line_errors, stdout
from scorer.cli.options import ROOT_HELP, track_help
from scorer.cli.tables import leaderboard_table
from scorer.errors import LumeError
from scorer.tracks.fill import TrackOptions, fill

FORMATS = ("table", *lb.FORMATS)
SUFFIXES = {".md": "md", ".markdown": "md", ".csv": "csv", ".html": "html", ".htm": "html"}
SUFFIXES |= {".json": "json", ".txt": "table"}
TEXT_WIDTH = 120  # the table format written to a file (the table itself fits 80)


def pick_format(fmt: str | None, json_output: bool, out: Path | None) -> str:
    """``--json`` (or a ``--format`` that agrees), ``--format``, the suffix of ``--out``, or
    the terminal table, in that order."""
    if json_output:
        if fmt not in (None, "json"):
            raise LumeError(f"--json and --format {fmt} disagree; give one of them")
        return "json"
    if fmt is not None:
        if fmt not in FORMATS:
            raise LumeError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
        return fmt
    if out is None:
        return "table"
    if out.suffix.lower() not in SUFFIXES:
        raise LumeError(
            f"{out}: cannot tell the format from the suffix {out.suffix!r}; "
            f"give --format ({', '.join(FORMATS)})"
        )
    return SUFFIXES[out.suffix.lower()]


def table_text(standings: list[lb.Standing], title: str) -> str:
    """The rich table as plain text (no colour), for ``--format table --out FILE``."""
    from rich.console import Console

    console = Console(file=io.StringIO(), width=TEXT_WIDTH, color_system=None, soft_wrap=False)
    console.print(leaderboard_table(standings, title))
    return console.file.getvalue()


@one_line_errors
def leaderboard_command(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="scores.json files, or directories holding run.json (lume-score run) "
            "or scores.json; each entry is named after its directory."
        ),
    ],
    track: Annotated[
        str | None,
        typer.Option("--track", help=track_help("its MMLU threshold (1B: none, no gate).")),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="table (rich, the default on a terminal), md, csv, html (one self-contained "
            "page) or json; default: from the suffix of --out, else table.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write the leaderboard here (atomically); the terminal shows the table."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
    mmlu_threshold: Annotated[
        float | None,
        typer.Option(
            "--mmlu-threshold",
            min=0.0,
            max=1.0,
            help="Leave out of the ranking entries whose MMLU is below this (0.371 on the 7B "
            "track); default: the track's, else each result's own.",
        ),
    ] = None,
    title: Annotated[str, typer.Option("--title", help="The leaderboard's title.")] = (
        "Leaderboard"
    ),
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
) -> None:
    """Rank results by final score, as the official SemEval-2025 Task 4 leaderboard did.

    Ties share a rank (1, 2, 2, 4). Entries with MMLU below the track's threshold are
    listed apart as honourable mentions (the 1B track has no threshold); runs that were not
    scored (failed, oom, invalid, not evaluated) are listed last with their status. Columns:
    final score, its 95% bootstrap interval, P(order) (the probability that a row stays
    above the next, over paired bootstrap replicates of the same items), task aggregate,
    MIA score, MMLU, wall time and GPU-hours from run.json. The same results give the same
    bytes, in any order.
    """
    from scorer.data.files import write_bytes_atomic

    chosen = pick_format(fmt, json_output, out)
    filled = fill(TrackOptions(mmlu_threshold=mmlu_threshold), track, root)
    threshold = filled.options.mmlu_threshold
    gate = not (filled.track is not None and threshold is None)  # a track without a gate
    standings = lb.rank(lb.load_results(results), threshold, gate=gate)
    if chosen == "table":
        text = table_text(standings, title)
    else:
        text = lb.render(standings, chosen, title)
    if out is not None:
        write_bytes_atomic(out, text.encode("utf-8"))
        stdout.print(leaderboard_table(standings, title))
        stdout.print(f"wrote {out} ({chosen})", highlight=False, markup=False, soft_wrap=True)
    elif chosen == "table":
        stdout.print(leaderboard_table(standings, title))
    else:
        typer.echo(text, nl=False)
