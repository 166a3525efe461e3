"""``lume``: the participant's command line (Typer + rich).

``--help`` and argument errors answer without torch: the mini-track builder, the baselines
and the scorer are imported inside the commands that run them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from baselines.methods import METHODS
from scorer.cli.console import add_command, one_line_errors, progress_bars, run_app, stderr, stdout
from scorer.cli.tables import comparison_table, scores_table
from scorer.contract import FOLDS
from scorer.errors import LumeError

DEFAULT_MINI_DIR = Path("mini-track")
DEMO_METHODS = ("ga", "gd", "kl", "npo")  # what `lume demo` runs: rows of METHODS


def _spoken_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


# One paragraph per method (Typer shows each on its own line), from the table of methods.
METHODS_HELP = "The method, one of:\n\n" + "\n\n".join(
    f"{m.name} - {m.summary}." for m in METHODS.values()
)
DEMO_BASELINES_HELP = f"Also run {_spoken_list([n.upper() for n in DEMO_METHODS])}."


def _build(
    out: Path,
    seed: int,
    source: Path | None,
    folds: tuple[str, ...],
    quiet: bool,
    epochs: int | None = None,
) -> dict:
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
    build = _build(out, seed, source, tuple(fold or FOLDS), json_output, epochs)
    if json_output:
        print(json.dumps(build, indent=2))
        return
    stdout.print(scores_table(build["target_scores"], title=f"Mini-track target ({out})"))
    stdout.print(
        f"built {out} in {build['seconds']['total']:.0f}s "
        f"(final training loss {build['final_train_loss']:.4f})"
    )


@one_line_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Mini-track directory (built if missing).")] = (
        DEFAULT_MINI_DIR
    ),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the mini track to build.")] = 0,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Build again even if present.")
    ] = False,
    baselines: Annotated[
        bool, typer.Option("--baselines/--no-baselines", help=DEMO_BASELINES_HELP)
    ] = True,
) -> None:
    """Build (or reuse) the mini track, run the baselines on it and score everything.

    Prints one table: the target and each baseline (mini preset), unlearned from the train
    fold and scored on that same fold, as the official protocol did, with the official
    formula. Files go to OUT/demo/.
    """
    from scorer.evaluation.evaluate import evaluate
    from scorer.evaluation.settings import EvalSettings
    from starter_kit.baseline import run_baseline
    from starter_kit.mini.build import build_paths, read_build

    build = read_build(out)
    if build is None or rebuild or build.get("seed") != seed or build.get("source"):
        stderr.print(f"building the mini track in {out} (a few minutes on a laptop CPU)")
        build = _build(out, seed, None, FOLDS, quiet=False)
    else:
        stderr.print(f"reusing the mini track in {out}")
    paths = build_paths(out, build)
    fold = build["scored_fold"]  # unlearned and scored: the official protocol
    settings = EvalSettings(fold=fold, unlearned_fold=fold, mmlu_threshold=build["mmlu_threshold"])
    demo_dir = out / "demo"

    def score(model_dir: Path, name: str) -> dict:
        with progress_bars() as bars:
            return evaluate(
                model_dir,
                paths["data_dir"],
                demo_dir / name,
                paths["mia_dir"],
                paths["mmlu_dir"],
                settings,
                bars,
            )

    rows = [("target", score(paths["model_dir"], "target"))]
    for name in DEMO_METHODS if baselines else ():
        stderr.print(f"unlearning with {name.upper()} (mini preset)")
        model_dir = demo_dir / name / "model"
        run_baseline(name, paths["model_dir"], paths["data_dir"], model_dir, fold, "mini")
        rows.append((name.upper(), score(model_dir, name)))
    stdout.print(scores_table(rows[0][1], title="Target (before unlearning)"))
    stdout.print(comparison_table(rows, title="Mini track: target and baselines"))
    stdout.print(f"scores in {demo_dir}/<model>/scores.json")


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
    if preset is None:
        preset = filled.track.baseline_preset if filled.track else "reference"
        stderr.print(f"preset {preset} ({'the track' if filled.track else 'the default'}'s)")
    missing = [option for option, value in (("--model", model), ("--data", data)) if not value]
    if missing:
        raise LumeError(f"{' and '.join(missing)} needed (or --track to fill them in)")
    if fold not in FOLDS:
        raise LumeError(f"--fold {fold!r}: expected one of {', '.join(FOLDS)}")
    from starter_kit.baseline import run_baseline

    report = run_baseline(name, model, data, out, fold, preset, deadline_seconds)
    why = " (stopped for the deadline)" if report.stopped_by_deadline else ""
    stdout.print(
        f"{name}: {report.steps} steps, checkpoints after steps {report.saves}, "
        f"{report.seconds:.1f}s{why} -> {out}"
    )


app = typer.Typer(
    help="The LUME unlearning starter kit: mini track, baselines, self-check, demo.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
mini_app = typer.Typer(help="The embedded mini track (a tiny world and target, CPU only).")
app.add_typer(mini_app, name="mini")
add_command(mini_app, "build", mini_build)
add_command(app, "demo", demo)
add_command(app, "baseline", baseline)


def main() -> None:
    """``lume``: argument errors are one line and exit 2, as every other bad input."""
    run_app(app)


if __name__ == "__main__":
    main()
