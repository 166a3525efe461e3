"""``lume check-submission``: what the organizers will do, on the participant's machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, stderr, stdout
from scorer.cli.options import ROOT_HELP, track_help
from scorer.errors import LumeError
from starter_kit.cli.mini import DEFAULT_MINI_DIR


@one_line_errors
def check_submission(
    submission: Annotated[Path, typer.Argument(help="The submission: one .py file.")],
    track: Annotated[
        str, typer.Option("--track", help=track_help("the budget and data of the run."))
    ] = "mini",
    root: Annotated[
        Path | None, typer.Option("--root", help=f"{ROOT_HELP} Default for mini: mini-track.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", help="Keep the run here (default: a temp dir).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Check a submission as the organizers will run it, before sending it.

    Static checks (it parses, defines unlearn with the four arguments, its imports are
    installed), then lume-score run under the track's budget (mini by default, fine on a
    laptop): the checkpoint it leaves is validated and scored, and a verdict table says
    whether it would be scored or why not. Exit 0 when it would be scored, 1 when not, 2
    for bad input.
    """
    import tempfile

    from rich.table import Table

    from scorer.tracks.track import load_track, resolve
    from starter_kit import check

    if submission.suffix != ".py" or not submission.is_file():
        raise LumeError(f"{submission}: not a .py file")
    loaded = load_track(track)
    root = root if root is not None else (DEFAULT_MINI_DIR if loaded.name == "mini" else Path("."))
    paths = resolve(loaded, root)
    if not (paths.model / "config.json").is_file():
        raise LumeError(
            f"{paths.model}: no target model (lume download --track {track} --root {root})"
        )
    checks = check.static_checks(submission)
    run = None
    if all(c.passed for c in checks):
        isolation, why_not = check.local_isolation()
        if why_not and not json_output:
            stderr.print(
                f"notice: {why_not}: the run is not isolated (--isolation none); it is your "
                "own code, and the organizers run it isolated",
                highlight=False,
                soft_wrap=True,
            )
        out = out or Path(tempfile.mkdtemp(prefix="lume-check-"))
        limit = loaded.time_limit_seconds
        device = "cpu" if loaded.gpus == 0 else "auto"  # the mini track: CPU, as organizers
        run = check.run_judge(submission, track, root, out, isolation, 2 * limit + 900, device)
        checks += check.run_checks(run, paths.mmlu_threshold)
    verdict = check.verdict_of(checks, run, out)
    if json_output:
        record = {
            "scored": verdict.scored,
            "reason": verdict.reason,
            "checks": [vars(c) for c in checks],
            "out": None if out is None else str(out),
        }
        print(json.dumps(record, indent=2))
        raise typer.Exit(0 if verdict.scored else 1)
    table = Table(title=f"{submission.name} on the {loaded.name} track")
    for column in ("check", "", "detail"):
        table.add_column(column)
    for item in checks:
        mark = "ok" if item.passed else ("FAIL" if item.passed is False else "-")
        table.add_row(item.name, mark, item.detail)
    stdout.print(table)
    if verdict.scored:
        stdout.print(f"would be scored (run kept in {out})")
        return
    if run is not None:
        stdout.print(f"run kept in {out} (run.json, submission.log)")
    stderr.print(f"would not be scored: {verdict.reason}", highlight=False, soft_wrap=True)
    raise typer.Exit(1)
