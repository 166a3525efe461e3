"""``lume-score``: the judge's command line (Typer + rich)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from scorer.console import one_line_errors, progress_bars, stdout
from scorer.evaluate import EvalSettings, PhaseTimer, evaluate

app = typer.Typer(
    help="Score LUME unlearning submissions exactly as SemEval-2025 Task 4 did, only faster.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _fmt(value: float | None, digits: int = 4) -> str:
    return "missing" if value is None else f"{value:.{digits}f}"


def scores_table(scores: dict, title: str = "LUME scores") -> Table:
    """The 12 components and the three headline numbers, as printed after a run."""
    table = Table(title=title)
    table.add_column("split")
    for task in ("Task1", "Task2", "Task3"):
        table.add_column(f"{task} regurg.", justify="right")
        table.add_column(f"{task} knowl.", justify="right")
    for split in ("forget", "retain"):
        row = [split]
        for task in ("Task1", "Task2", "Task3"):
            row += [
                _fmt(scores[split][task]["regurgitation"]),
                _fmt(scores[split][task]["knowledge"]),
            ]
        table.add_row(*row)
    return table


def summary_table(scores: dict) -> Table:
    table = Table(title="Summary")
    for name in ("task aggregate", "MIA AUC", "MIA score", "MMLU", "MMLU passed", "final score"):
        table.add_column(name, justify="right")
    passed = scores["mmlu_passed"]
    table.add_row(
        _fmt(scores["task_aggregate"]),
        _fmt(scores["mia_auc"]),
        _fmt(scores["mia_score"]),
        _fmt(scores["mmlu"]),
        "n/a" if passed is None else ("yes" if passed else "NO"),
        _fmt(scores["final_score"]),
    )
    return table


def _mean_of(scores: dict, split: str, metric: str) -> float:
    values = [scores[split][task][metric] for task in ("Task1", "Task2", "Task3")]
    return sum(values) / len(values)


def comparison_table(rows: list[tuple[str, dict]], title: str = "Comparison") -> Table:
    """One row per scored model: forget (F) / retain (R) means over the tasks, the three
    components and the final score; narrow enough for an 80-column terminal."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    columns = ("model", "F reg", "F kn", "R reg", "R kn", "agg", "AUC", "MIA", "MMLU", "final")
    for name in columns:
        width = max(len(n) for n, _ in rows) if name == "model" else 5
        table.add_column(name, justify="left" if name == "model" else "right", min_width=width)
    for name, scores in rows:
        table.add_row(
            name,
            *(
                _fmt(_mean_of(scores, split, metric), 3)
                for split in ("forget", "retain")
                for metric in ("regurgitation", "knowledge")
            ),
            *(
                _fmt(scores[key], 3)
                for key in ("task_aggregate", "mia_auc", "mia_score", "mmlu", "final_score")
            ),
        )
    return table


@app.callback()
def _root() -> None:
    """Score LUME unlearning submissions exactly as SemEval-2025 Task 4 did, only faster."""


@app.command("evaluate")
@one_line_errors
def evaluate_command(
    model_dir: Annotated[Path, typer.Argument(help="Hugging Face checkpoint directory to score.")],
    data: Annotated[
        Path, typer.Option("--data", help="LUME data: hub layout or forget/retain files.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for scores.json and items.jsonl.")],
    mia: Annotated[
        Path | None, typer.Option("--mia", help="Directory with member.jsonl and nonmember.jsonl.")
    ] = None,
    mmlu: Annotated[
        Path | None, typer.Option("--mmlu", help="MMLU directory (CSV or hub parquet layout).")
    ] = None,
    split: Annotated[
        str, typer.Option("--split", help="Which fold of the hub layout: validation or train.")
    ] = "validation",
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
        int, typer.Option("--batch-tokens", min=256, help="Token budget of one batch.")
    ] = 16384,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print scores.json to stdout.")
    ] = False,
) -> None:
    """Generate greedily for every item, run the MIA and MMLU, and write the official score.

    Writes OUT/scores.json (final_score, task_aggregate, mia_auc, mia_score, mmlu, the 12
    components...) and OUT/items.jsonl (one line per item with its generation and score).
    Leave out --mia or --mmlu to skip them: the scores that need them are reported missing.
    """
    settings = EvalSettings(
        fold=split,
        max_new_tokens=max_new_tokens,
        shots=shots,
        device=device,
        dtype=dtype,
        mmlu_threshold=mmlu_threshold,
        batch_tokens=batch_tokens,
    )
    timer = PhaseTimer()
    with progress_bars(enabled=not json_output) as bars:
        scores = evaluate(model_dir, data, out, mia, mmlu, settings, bars, timer)
    if json_output:
        print(json.dumps(scores, indent=2))
        return
    stdout.print(scores_table(scores))
    stdout.print(summary_table(scores))
    phases = ", ".join(f"{name} {sec:.1f}s" for name, sec in timer.seconds.items())
    stdout.print(f"wrote {out / 'scores.json'} and {out / 'items.jsonl'} ({phases})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
