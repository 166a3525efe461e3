"""``lume prepare``: the hub layout laid out as ``unlearn()`` receives it, per fold."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, stdout
from scorer.cli.options import ROOT_HELP, track_help


@one_line_errors
def prepare(
    track: Annotated[str, typer.Option("--track", help=track_help("the data to prepare."))] = "7B",
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
    out: Annotated[
        Path | None, typer.Option("--out", help="Where to write (default ROOT/prepared).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a different prepared tree.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print what was written.")] = False,
) -> None:
    """Lay a downloaded track out as unlearn() receives it, per fold.

    Writes OUT/<fold>/forget/forget.parquet and forget.jsonl (records, one per line),
    OUT/<fold>/retain/..., OUT/mia_data/, OUT/mmlu/ and OUT/prepared.json (every file's
    sha256). Running it again changes nothing; different data is refused without --force;
    a half-downloaded tree is refused with the names of the missing files.
    """
    from rich.table import Table

    from scorer.tracks.track import load_track
    from starter_kit.prepare import prepare as prepare_track

    done = prepare_track(load_track(track), root, out, force)
    if json_output:
        record = {"out": str(done.out), "changed": done.changed, "counts": done.counts}
        print(json.dumps({**record, "files": done.files}, indent=2))
        return
    table = Table(title=f"Prepared in {done.out}")
    for column in ("fold", "split", "items", "files"):
        table.add_column(column, justify="right" if column == "items" else "left")
    for fold, splits in done.counts.items():
        for split, count in splits.items():
            table.add_row(fold, split, str(count), f"{fold}/{split}/{split}.parquet, .jsonl")
    stdout.print(table)
    state = "written" if done.changed else "already there, unchanged"
    stdout.print(f"{len(done.files)} files {state}; forget/retain sets: {done.out}/<fold>/")
