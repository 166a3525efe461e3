"""``lume baseline``: one method of the table, run as the organizers would run a submission."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from baselines.methods import METHODS
from scorer.cli.console import one_line_errors, stdout
from scorer.contract import FOLDS
from scorer.errors import LumeError

# One paragraph per method (Typer shows each on its own line), from the table of methods.
METHODS_HELP = "The method, one of:\n\n" + "\n\n".join(
    f"{m.name} - {m.summary}." for m in METHODS.values()
)


@one_line_errors
def baseline(
    name: Annotated[str, typer.Argument(help=METHODS_HELP)],
    out: Annotated[Path, typer.Option("--out", help="Where to write the unlearned checkpoint.")],
    track: Annotated[
        str | None,
        typer.Option(
            "--track",
            help="mini, 1B, 7B or a .toml file: fills --model, --data, --fold and --preset from "
            "--root (options given explicitly win).",
        ),
    ] = None,
    root: Annotated[Path, typer.Option("--root", help="Where the track's directories lie.")] = (
        Path(".")
    ),
    model: Annotated[
        Path | None, typer.Option("--model", help="The model to unlearn from.")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="LUME data (hub or submission layout).")
    ] = None,
    fold: Annotated[
        str | None,
        typer.Option("--fold", help="Which fold to unlearn: the track's, else train."),
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--preset",
            help="reference (real models) or mini (the tiny target): the track's, else reference.",
        ),
    ] = None,
    deadline_seconds: Annotated[
        float | None,
        typer.Option("--deadline", help="Leave a checkpoint within this many seconds."),
    ] = None,
) -> None:
    """Run one baseline as the organizers would: its unlearn() on forget/retain directories."""
    if name not in METHODS:
        raise LumeError(f"baseline {name!r}: expected one of {', '.join(METHODS)}")
    from scorer.tracks.fill import TrackOptions, fill

    filled = fill(TrackOptions(model=model, data=data, fold=fold), track, root)
    model, data = filled.options.model, filled.options.data
    fold = filled.options.fold or "train"
    missing = [option for option, value in (("--model", model), ("--data", data)) if not value]
    if missing:
        raise LumeError(f"{' and '.join(missing)} needed (or --track to fill them in)")
    if fold not in FOLDS:
        raise LumeError(f"--fold {fold!r}: expected one of {', '.join(FOLDS)}")
    chosen = "given" if preset else ("the track's" if filled.track else "the default")
    if preset is None:
        preset = filled.track.baseline_preset if filled.track else "reference"
    from starter_kit.baseline import run_baseline

    report = run_baseline(name, model, data, out, fold, preset, deadline_seconds)
    why = " (stopped for the deadline)" if report.stopped_by_deadline else ""
    stdout.print(
        f"{name}: {report.steps} steps, checkpoints after steps {report.saves}, "
        f"{report.seconds:.1f}s{why} -> {out}"
    )
    stdout.print(f"preset {preset} ({chosen}), fold {fold}", highlight=False)
