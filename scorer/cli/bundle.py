"""``lume-score bundle``: write a track's Codabench competition bundle (version 2)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from scorer.cli.console import one_line_errors, stdout
from scorer.cli.options import ROOT_HELP, track_help


@one_line_errors
def bundle_command(
    track: Annotated[
        str,
        typer.Option(
            "--track", help=track_help("its data, time limit, GPUs, fold and MMLU threshold.")
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The bundle to write: a new .zip file.")],
    root: Annotated[Path, typer.Option("--root", help=ROOT_HELP)] = Path("."),
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="The docker image the programs run in (default: lume-kit:VERSION for an "
            "embedded target, lume-kit-<track>:VERSION with the target baked in otherwise).",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option("--start", help="The phase's start, YYYY-MM-DD [HH:MM:SS] (default: today)."),
    ] = None,
    image_root: Annotated[
        str,
        typer.Option("--image-root", help="Where the image holds `lume download --root`."),
    ] = "/opt/lume",
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Write a Codabench competition bundle (version 2) of a track, ready to upload.

    competition.yaml (version 2, logo, docker image pinned to this kit's version, terms,
    pages: the kit's overview and "The score, exactly"; one task, one phase whose
    execution_time_limit comes from the track, a leaderboard whose column keys are those
    the scoring program writes), an ingestion program that runs the submission with
    lume-score run's runner under the track's time limit, a scoring program that scores
    the checkpoint it left, the public fold as input data and what the scoring needs as
    reference data.

    A target of at most 256 MiB (the mini track's) is embedded; a larger one (1B, 7B) is
    expected in the docker image under --image-root (the bundle's docker/Dockerfile puts it
    there with lume download). Exit 2 for bad input (unknown track, unbuilt or missing
    --root, existing --out): nothing is written.
    """
    from scorer.bundle.build import build_bundle

    summary = build_bundle(track, root, out, image=image, start=start, image_root=image_root)
    if json_output:
        print(json.dumps({**asdict(summary), "out": str(summary.out)}, indent=2))
        return
    from rich.table import Table

    table = Table(title=f"Codabench bundle: {summary.track} track", show_header=False)
    table.add_row("file", str(summary.out))
    table.add_row("size", f"{summary.bytes / 2**20:.1f} MiB, {summary.files} files")
    table.add_row("docker image", summary.docker_image)
    table.add_row("kit version", summary.kit_version)
    table.add_row("target model", summary.model)
    table.add_row("execution_time_limit", f"{summary.execution_time_limit} s")
    table.add_row("leaderboard columns", ", ".join(summary.columns))
    stdout.print(table)
