"""The ``lume-score`` Typer app: one command per module of ``scorer.cli``, registered here."""

from __future__ import annotations

import typer

from scorer.cli.batch import batch_command
from scorer.cli.bundle import bundle_command
from scorer.cli.console import add_command, run_app
from scorer.cli.evaluate import evaluate_command
from scorer.cli.leaderboard import leaderboard_command
from scorer.cli.report import report_command
from scorer.cli.run import run_command
from scorer.cli.validate import validate_command

ABOUT = "Score LUME unlearning submissions exactly as SemEval-2025 Task 4 did, only faster."

app = typer.Typer(
    help=ABOUT, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
)


@app.callback(help=ABOUT)
def _root() -> None:
    """The group's own callback: it makes ``lume-score COMMAND`` a group, whatever its size."""


add_command(app, "evaluate", evaluate_command)
add_command(app, "validate", validate_command)
add_command(app, "leaderboard", leaderboard_command)
add_command(app, "run", run_command)
add_command(app, "report", report_command)
add_command(app, "bundle", bundle_command)
add_command(app, "batch", batch_command)


def main() -> None:
    """``lume-score``: argument errors are one line and exit 2, as every other bad input."""
    run_app(app)
