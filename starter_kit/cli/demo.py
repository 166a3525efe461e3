"""``lume demo``: build the mini track, run baselines on it, score everything in one table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, progress_bars, stderr, stdout
from scorer.cli.tables import comparison_table, scores_table
from scorer.contract import FOLDS
from starter_kit.cli.mini import DEFAULT_MINI_DIR, build_track

DEMO_METHODS = ("ga", "gd", "kl", "npo")  # what `lume demo` runs: rows of METHODS


def _spoken_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


DEMO_BASELINES_HELP = f"Also run {_spoken_list([n.upper() for n in DEMO_METHODS])}."


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
        build = build_track(out, seed, None, FOLDS, quiet=False)
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
