"""``lume mini build``: the embedded mini track (a tiny world and target, CPU only)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, progress_bars, stdout
from scorer.cli.tables import scores_table
from scorer.contract import FOLDS
from scorer.errors import LumeError

DEFAULT_MINI_DIR = Path("mini-track")


def build_track(
    out: Path,
    seed: int,
    source: Path | None,
    folds: tuple[str, ...],
    quiet: bool,
    epochs: int | None = None,
) -> dict:
    """Build the mini track into ``out`` (checked arguments, progress on stderr)."""
    if source is not None and not source.is_dir():
        raise LumeError(f"--source {source}: not a directory")
    for fold in folds:
        if fold not in FOLDS:
            raise LumeError(f"--fold {fold!r}: expected one of {', '.join(FOLDS)}")
    from starter_kit.mini.build import BuildOptions, build_mini_track
    from starter_kit.mini.target import TargetConfig

    target = TargetConfig() if epochs is None else replace(TargetConfig(), epochs=epochs)
    options = BuildOptions(seed=seed, source=source, source_folds=folds, target=target)
    with progress_bars(enabled=not quiet) as bars:
        return build_mini_track(out, options, bars)


@one_line_errors
def mini_build(
    out: Annotated[Path, typer.Option("--out", help="Directory to build into.")] = DEFAULT_MINI_DIR,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the world and the training.")] = 0,
    source: Annotated[
        Path | None,
        typer.Option("--source", help="Train the tiny target on this LUME-format dataset instead."),
    ] = None,
    fold: Annotated[
        list[str] | None,
        typer.Option("--fold", help="With --source: folds to use (repeatable; default both)."),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", min=1, help="Training epochs of the target.")
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print build.json to stdout.")
    ] = False,
) -> None:
    """Generate the mini world in the hub layout, train its target, score it.

    Writes OUT/build.json (paths of model, data, MIA and MMLU dirs and the target's
    scores). The same seed gives byte-identical data files and identical scores.
    """
    build = build_track(out, seed, source, tuple(fold or FOLDS), json_output, epochs)
    if json_output:
        print(json.dumps(build, indent=2))
        return
    stdout.print(scores_table(build["target_scores"], title=f"Mini-track target ({out})"))
    stdout.print(
        f"built {out} in {build['seconds']['total']:.0f}s "
        f"(final training loss {build['final_train_loss']:.4f})"
    )
