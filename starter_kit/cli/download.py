"""``lume download``: a track's target, data and MMLU from the hub or a mirror, verified."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, stderr, stdout
from scorer.cli.options import track_help
from scorer.errors import LumeError


def _download_table(fetched: list, root: Path):
    from rich.table import Table

    from starter_kit.layout import human_size

    table = Table(title=f"Downloaded into {root}")
    for column in ("repository", "directory", "commit", "files", "size", "source"):
        table.add_column(column, justify="right" if column in ("files", "size") else "left")
    for item in fetched:
        table.add_row(
            item.repository.label,
            item.repository.local,
            item.commit[:12],
            str(len(item.files)),
            human_size(sum(f.size for f in item.files)),
            item.source,
        )
    return table


@one_line_errors
def download(
    track: Annotated[
        str, typer.Option("--track", help=track_help("the repositories to fetch."))
    ] = "7B",
    root: Annotated[
        Path, typer.Option("--root", help="Where to lay them out (as --root of every command).")
    ] = Path("."),
    model: Annotated[bool, typer.Option("--model", help="Only the target model.")] = False,
    dataset: Annotated[
        bool, typer.Option("--dataset", help="Only the dataset (with mia_data/).")
    ] = False,
    mmlu: Annotated[bool, typer.Option("--mmlu", help="Only MMLU (cais/mmlu).")] = False,
    revision: Annotated[
        str, typer.Option("--revision", help="Branch, tag or commit to pin (default main).")
    ] = "main",
    token: Annotated[
        str | None,
        typer.Option("--token", help="Hub token (else --token-file, HF_TOKEN, the login)."),
    ] = None,
    token_file: Annotated[
        Path | None, typer.Option("--token-file", help="A file holding the hub token.")
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="A private hub (else HF_ENDPOINT).")
    ] = None,
    mirror: Annotated[
        Path | None,
        typer.Option("--mirror", help="Copy from this local mirror instead of the hub."),
    ] = None,
    verify_only: Annotated[
        bool, typer.Option("--verify", help="Check ROOT against ROOT/manifest.json only.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the manifest.")] = False,
) -> None:
    """Fetch what a track names (target model, dataset with mia_data/, MMLU) into ROOT.

    Laid out where --track X --root ROOT of every other command looks; ROOT/manifest.json
    records each repository's commit and each file's size and sha256. A re-run keeps the
    files already complete (it resumes). Exit 0 when done (--verify: the tree matches), 1
    when --verify finds a difference, 2 for bad input or a download that cannot proceed.
    """
    from starter_kit import hub, layout
    from starter_kit.mirror import fetch_mirror

    if verify_only:
        manifest, problems = layout.verify(root)
        count = sum(len(e["files"]) for e in manifest["repositories"])
        for problem in problems:
            stderr.print(f"{problem.local}/{problem.path}: {problem.what}", highlight=False)
        if json_output:
            print(json.dumps({"files": count, "problems": [vars(p) for p in problems]}))
        if problems:
            stderr.print(f"{len(problems)} of {count} files differ from {root / layout.MANIFEST}")
            raise typer.Exit(1)
        stdout.print(f"{count} files match {root / layout.MANIFEST}")
        return
    from scorer.tracks.track import load_track

    chosen = [k for k, on in (("model", model), ("data", dataset), ("mmlu", mmlu)) if on]
    loaded = load_track(track)
    repos = layout.track_repositories(loaded, chosen or ("model", "data", "mmlu"))
    if mirror is not None:
        if not mirror.is_dir():
            raise LumeError(f"--mirror {mirror}: not a directory")
        fetched = fetch_mirror(root, mirror, repos)
    else:
        access = hub.HubAccess(endpoint=endpoint, token=hub.read_token(token, token_file))
        say = (lambda m: None) if json_output else (lambda m: stderr.print(m, highlight=False))
        fetched = hub.download(root, repos, access, revision, say=say, quiet=json_output)
    manifest = layout.write_manifest(root, loaded.name, [])
    if json_output:
        print(json.dumps(manifest, indent=2))
        return
    stdout.print(_download_table(fetched, root))
    stdout.print(
        f"manifest: {root / layout.MANIFEST}; next: lume prepare --track {track} --root {root}"
    )
