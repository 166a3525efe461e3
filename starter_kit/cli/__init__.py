"""``lume``: the participant's command line (Typer + rich), one module per command."""

from starter_kit.cli.app import main

__all__ = ["main"]
