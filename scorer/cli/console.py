"""Terminal conventions shared by the CLIs: one-line errors with exit code 2, progress bars.

``one_line_errors`` turns a :class:`LumeError` into one line on stderr and exit code 2 (no
traceback); progress goes to stderr so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scorer.errors import LumeError

stdout = Console()
stderr = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def one_line_errors(command: Callable) -> Callable:
    """Decorate a CLI command: a ``LumeError`` becomes one line on stderr and exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LumeError as err:
            message = " ".join(str(err).split())
            stderr.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


@contextlib.contextmanager
def progress_bars(enabled: bool = True) -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """A factory of progress bars, one per phase: ``advance = bars(name, total)``."""
    if not enabled:
        yield lambda _name, _total: lambda _n: None
        return
    columns = (
        TextColumn("{task.description:<12}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=False) as progress:

        def factory(name: str, total: int) -> Callable[[int], None]:
            task = progress.add_task(name, total=total)
            return lambda n: progress.advance(task, n)

        yield factory
