"""Helpers the CLI tests of ``lume-score`` and ``lume`` share: a probe in a fresh
interpreter (which heavy modules did a command import?), the one-line error check, and
checks of how help texts render."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import typer

HEAVY = ("torch", "transformers")

# Runs a CLI's console-script entry point in a fresh interpreter, then records which heavy
# modules it imported (into the file named by the first argument).
PROBE = """
import json, sys
record, module, prog, *args = sys.argv[1:]
sys.argv = [prog, *args]
code = 0
try:
    __import__(module, fromlist=["main"]).main()
except SystemExit as exit:
    code = exit.code
with open(record, "w") as f:
    json.dump(sorted(m for m in {heavy!r} if m in sys.modules), f)
sys.exit(code)
"""


def probe(
    tmp_path: Path, module: str, prog: str, *args: str, timeout: float | None = None
) -> tuple[subprocess.CompletedProcess, list[str]]:
    """``prog ARGS`` (``module``'s ``main``) in a fresh interpreter, and the heavy modules
    it left imported; past ``timeout`` seconds the interpreter is killed and the test fails.

    A command that ended without an exit code (an uncaught exception, a signal) leaves no
    record: the test fails with its exit status and stderr, which say why."""
    record = tmp_path / "heavy.json"
    record.unlink(missing_ok=True)  # a record is this run's, never a previous probe's
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), str(record), module, prog, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert record.exists(), (
        f"{prog} {' '.join(args)} ended without an exit code (status {result.returncode}); "
        f"stderr:\n{result.stderr[-4000:]}"
    )
    return result, json.loads(record.read_text())


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 2, one line on stderr holding every needle, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def hard_breaks(rendered: str, width: int) -> list[str]:
    """Lines of a help's description that end although the next word would have fitted.

    The description lies between the usage line and the first panel, inside one column
    of padding on each side; a line a terminal wrapped itself ends only where the next
    word does not fit, so any other line end inside a paragraph is a break in the text.
    """
    lines = rendered.splitlines()
    start = next(i for i, line in enumerate(lines) if "Usage:" in line) + 1
    end = next((i for i, line in enumerate(lines) if line.startswith("╭")), len(lines))
    body = [line.strip() for line in lines[start:end]]
    return [
        line
        for line, following in zip(body, body[1:])
        if line and following and len(line) + 1 + len(following.split()[0]) <= width - 2
    ]


def single_line_breaks(group: typer.Typer) -> list[str]:
    """Help texts of commands and parameters with a line break inside a paragraph."""
    found = []
    commands = [typer.main.get_command(group)]
    while commands:
        command = commands.pop()
        commands += getattr(command, "commands", {}).values()
        texts = [(command.name, command.help)]
        texts += [(f"{command.name} {p.name}", getattr(p, "help", None)) for p in command.params]
        found += [name for name, text in texts if text and re.search(r"(?<!\n)\n(?!\n)", text)]
    return found
