"""``lume-score``: the judge's command line (Typer + rich), one module per command."""

from scorer.cli.app import main

__all__ = ["main"]
