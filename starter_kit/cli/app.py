"""The ``lume`` Typer app: registers the commands (each in its own module) and ``main``.

``--help`` and argument errors answer without torch: the mini-track builder, the baselines
and the scorer are imported inside the commands that run them.
"""

from __future__ import annotations

import typer

from scorer.cli.console import add_command, run_app
from starter_kit.cli.baseline import baseline
from starter_kit.cli.check import check_submission
from starter_kit.cli.demo import demo
from starter_kit.cli.download import download
from starter_kit.cli.mini import mini_build
from starter_kit.cli.prepare import prepare

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
add_command(app, "download", download)
add_command(app, "prepare", prepare)
add_command(app, "check-submission", check_submission)


def main() -> None:
    """``lume``: argument errors are one line and exit 2, as every other bad input."""
    run_app(app)
