"""``lume-score report``: one self-contained HTML report of a result, beside others."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from scorer.cli.console import one_line_errors, stderr, stdout

if TYPE_CHECKING:
    from scorer.report.page import Section


def report_table(sections: Sequence[Section], out: Path) -> Table:
    """What the report holds: each section, shown or not available and why."""
    table = Table(title=Text(f"lume-score report: {out}"))
    table.add_column("section")
    table.add_column("shown")
    table.add_column("note")
    for s in sections:
        table.add_row(Text(s.title), "yes" if s.available else "no", Text(s.note))
    return table


@one_line_errors
def report_command(
    result_dir: Annotated[
        Path,
        typer.Argument(
            help="A lume-score evaluate --out directory (scores.json, items.jsonl, mia.jsonl), "
            "a lume-score run --out directory (run.json, evaluation/), or a directory of "
            "checkpoint sub-directories with a step number in their names, each scored."
        ),
    ],
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            "--compare",
            help="Another result to show beside it, e.g. the target model's scores "
            "(repeat the option for several).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the HTML report.")] = Path(
        "report.html"
    ),
    json_output: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON to stdout.")
    ] = False,
) -> None:
    """Write one self-contained HTML report of a result: where a method leaks.

    Per task, forget against retain regurgitation and knowledge; member and nonmember NLL
    histograms with each membership attack's ROC curve and AUC; MMLU by subject; each
    component along the steps when several checkpoints were scored; the run's budget from
    run.json; and a filterable table of every item with the generations of each result.
    Figures are embedded: the file needs no network and no other file to be viewed.
    """
    from scorer.data.files import write_bytes_atomic
    from scorer.report import build

    with stderr.status("drawing the report"):
        report = build(result_dir, compare or [])
    write_bytes_atomic(out, report.html.encode("utf-8"))
    if json_output:
        sections = {s.key: {"shown": s.available, "note": s.note} for s in report.sections}
        print(
            json.dumps({"out": str(out), "bytes": len(report.html.encode()), "sections": sections})
        )
        return
    stdout.print(report_table(report.sections, out))
    stdout.print(Text(f"wrote {out}"))
