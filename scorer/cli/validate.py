"""``lume-score validate``: say whether a checkpoint may be scored, without loading it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import EXIT_FAILED, one_line_errors, progress_bars, stdout
from scorer.cli.tables import violations_table


@one_line_errors
def validate_command(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint directory a submission left.")],
    reference: Annotated[
        Path, typer.Option("--reference", help="The target model directory it must match.")
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON to stdout.")
    ] = False,
) -> None:
    """Check that a checkpoint may be loaded and scored, without loading it.

    Safetensors only (pickle and code files are refused unopened), no symlinks or remote
    code, config and tokenizer equal to the reference's, same tensor names and shapes,
    every value finite (streamed), sizes within limits.

    Exit 0 if valid, 1 with every violation listed, 2 if the reference is unusable or
    CHECKPOINT is not a directory.
    """
    from scorer.checkpoint.validate import validate_checkpoint

    with progress_bars(enabled=not json_output) as bars:
        report = validate_checkpoint(checkpoint, reference, progress=bars)
    if json_output:
        print(json.dumps(report.to_json(), indent=2))
    else:
        if report.violations:
            stdout.print(violations_table(report.violations))
        for note in report.notes:
            stdout.print(f"note: {note}", highlight=False)
        verdict = "[green]valid[/green]" if report.ok else "[red]INVALID[/red]"
        stdout.print(
            f"{checkpoint}: {verdict} ({report.tensors_checked} tensors, "
            f"{report.bytes_checked / 2**20:.1f} MiB checked in {report.seconds:.1f}s)",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
