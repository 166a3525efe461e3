"""Terminal conventions shared by the CLIs: one-line errors with exit code 2, help, progress bars.

``one_line_errors`` turns a :class:`LumeError` into one line on stderr and exit code 2 (no
traceback), and :func:`run_app` does the same for argument errors; progress goes to stderr
so ``--json`` output on stdout stays parseable. Nothing here imports torch: ``--help`` and
argument errors answer at once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from typing import NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from scorer.errors import LumeError
from scorer.safe_text import terminal

stdout = Console()
stderr = Console(stderr=True)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

# The base of click's argument errors. Typer vendors click (0.29+) or re-exports it, so the
# class is reached through the public ``typer.BadParameter``, not through a module path.
_ARGUMENT_ERROR = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


def _print_error(message: str) -> None:
    message = " ".join(message.split())  # one line; a path's escape sequences written out
    stderr.print(f"[red]error:[/red] {terminal(message)}", highlight=False, soft_wrap=True)


def one_line_errors(command: Callable) -> Callable:
    """Decorate a CLI command: a ``LumeError`` becomes one line on stderr and exit 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LumeError as err:
            _print_error(str(err))
            raise typer.Exit(EXIT_BAD_INPUT) from None

    return wrapper


def help_text(docstring: str) -> str:
    """A docstring as Typer's rich help should get it: each paragraph on one line.

    Typer keeps a docstring's line breaks after its first paragraph, so text wrapped at
    the source's width comes out broken at a fixed column; one line per paragraph lets
    the terminal wrap it at its own width.
    """
    paragraphs = inspect.cleandoc(docstring).split("\n\n")
    return "\n\n".join(" ".join(p.split()) for p in paragraphs if p.strip())


def add_command(app: typer.Typer, name: str, command: Callable) -> None:
    """Register ``command`` as ``name``, its docstring as the help (see :func:`help_text`)."""
    app.command(name, help=help_text(command.__doc__ or ""))(command)


def run_app(app: typer.Typer) -> NoReturn:
    """Run a CLI. An argument error (unknown or missing option, bad value) is one line on
    stderr and exit 2, like any other bad input; help exits 0."""
    command = typer.main.get_command(app)
    try:
        code = command.main(standalone_mode=False)
    except _ARGUMENT_ERROR as err:
        if type(err).__name__ == "NoArgsIsHelpError":
            sys.exit(EXIT_BAD_INPUT)  # the help has been printed, as click does
        context = getattr(err, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context is not None else ""
        _print_error(err.format_message() + hint)
        sys.exit(err.exit_code)
    except typer.Abort:
        _print_error("aborted")
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


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
