"""``lume-score bundle``: a Codabench v2 competition bundle of one track, as a zip.

Laid out as Codabench's v2 unpacker reads it (see :mod:`scorer.bundle.schema`)::

    competition.yaml        version 2, title, logo, docker_image, terms, pages, tasks,
                            phases (execution_time_limit from the track), leaderboards
    logo.png  pages/*.md  docker/Dockerfile (the image it names)
    ingestion_program/      metadata.yaml (command) + ingestion.py -> scorer.bundle.ingestion
    scoring_program/        metadata.yaml (command) + scoring.py  -> scorer.bundle.scoring
    input_data/             lume-task.json, forget/ + retain/ (the fold, as unlearn() gets
                            them), model/ when the target is small enough to embed
    reference_data/         lume-task.json, data/ (the fold), mia_data/, mmlu/

The target is embedded when it is at most ``EMBED_LIMIT`` bytes (the mini track's 1.3 M
parameters); a larger one (1B, 7B: GBs) stays out of the bundle and the programs find it
in the docker image at ``/opt/lume/<the track's local name>``, where the bundle's
Dockerfile puts it with ``lume download``. Every input is loaded and checked before
anything is written; the zip is written at once (temp file, rename) with fixed timestamps:
the same inputs give the same bytes.
"""

from __future__ import annotations

import io
import math
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import yaml

from scorer.bundle import pages
from scorer.bundle.columns import leaderboard
from scorer.bundle.schema import problems, program_problems
from scorer.bundle.task import TASK_FILE, TaskConfig
from scorer.data.files import write_bytes_atomic, write_items_jsonl, write_items_parquet
from scorer.errors import LumeError
from scorer.tracks.track import Track, TrackPaths, load_track, resolve

EMBED_LIMIT = 256 * 2**20
PROGRAMS = {"ingestion_program": "ingestion", "scoring_program": "scoring"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
MMLU_SUFFIXES = (".parquet", ".csv")

LAUNCHER = '''"""Codabench {kind} program of the LUME {track} track.

It runs lume-kit's scorer.bundle.{module} from the docker image, at the bundle's version.
"""

import sys
from importlib.metadata import PackageNotFoundError, version

KIT = "{kit}"  # the version this bundle was made with, and the docker image's

try:
    installed = version("lume-kit")
except PackageNotFoundError:
    installed = None
if installed != KIT:
    message = f"error: this bundle needs lume-kit {{KIT}} in the image, found {{installed}}"
    print(message, file=sys.stderr)
    sys.exit(2)

from scorer.bundle.{module} import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''


@dataclass(frozen=True)
class BundleSummary:
    out: Path
    track: str
    docker_image: str
    kit_version: str
    files: int
    bytes: int
    execution_time_limit: int
    model: str  # "embedded" or its path in the image
    columns: tuple[str, ...]


def kit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(pages.DISTRIBUTION)
    except PackageNotFoundError:
        raise LumeError(
            f"{pages.DISTRIBUTION} is not installed: its version pins the image"
        ) from None


def execution_time_limit(time_limit_seconds: float) -> int:
    """The platform's limit of one step: the track's limit plus as much again (at least 10
    minutes) for staging, freezing, validating and, in the scoring step, evaluating."""
    return math.ceil(time_limit_seconds + max(600.0, time_limit_seconds))


def logo_png(size: int = 64) -> bytes:
    """A small PNG (the logo Codabench requires), made with zlib: a diagonal two-tone square."""
    rows = b"".join(
        b"\0" + b"".join(b"\x2b\x59\xc3" if x > y else b"\xf2\xa9\x00" for x in range(size))
        for y in range(size)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _copy_files(source: Path, target: Path, keep=lambda p: True) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not path.name.startswith(".") and keep(path):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


@dataclass(frozen=True)
class Sources:
    """A track's inputs, found and checked: what goes where in the bundle."""

    track: Track
    paths: TrackPaths
    items: dict
    data_files: dict[str, Path]
    mia_files: dict[str, Path]
    embed_model: bool
    model_in_image: str | None


def check_sources(track_name: str, root: Path, image_root: str) -> Sources:
    """Find and load everything the bundle needs; a missing or broken input is a one-line
    error before anything is written."""
    from scorer.data.lume import find_lume_files, load_lume
    from scorer.data.mia import find_mia_files, load_mia
    from scorer.data.mmlu import load_mmlu

    track = load_track(track_name)
    if not root.is_dir():
        raise LumeError(f"--root {root}: no such directory")
    paths = resolve(track, root)
    fold = track.fold
    items = load_lume(paths.data, fold)
    data_files = find_lume_files(paths.data, fold)
    load_mia(paths.mia)
    mia_files = find_mia_files(paths.mia)
    load_mmlu(paths.mmlu)
    present = paths.model.is_dir()
    embed = present and _dir_bytes(paths.model) <= EMBED_LIMIT
    if embed:
        from scorer.checkpoint.reference import load_reference

        try:
            load_reference(paths.model)
        except LumeError as err:
            raise LumeError(f"{paths.model}: not a usable target model: {err}") from None
    elif track.manifest is not None and not present:
        raise LumeError(f"track {track.name}: {paths.model}: the target is missing (not built?)")
    in_image = None
    if not embed:
        try:
            relative = paths.model.relative_to(root)
        except ValueError:
            raise LumeError(f"{paths.model}: the target lies outside --root {root}") from None
        in_image = f"{image_root.rstrip('/')}/{relative.as_posix()}"
    return Sources(track, paths, items, data_files, mia_files, embed, in_image)


def _stage_data(src: Sources, base: Path, config: TaskConfig) -> None:
    """input_data/ (what ingestion hands to unlearn()) and reference_data/ (what scoring reads)."""
    inputs, reference = base / "input_data", base / "reference_data"
    for split in ("forget", "retain"):
        write_items_parquet(inputs / split / f"{split}.parquet", src.items[split])
        write_items_jsonl(inputs / split / f"{split}.jsonl", src.items[split])
    if src.embed_model:
        _copy_files(src.paths.model, inputs / config.model)
    for path in src.data_files.values():
        (reference / config.data).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, reference / config.data / path.name)
    for path in src.mia_files.values():
        (reference / config.mia).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, reference / config.mia / path.name)
    _copy_files(src.paths.mmlu, reference / config.mmlu, lambda p: p.suffix in MMLU_SUFFIXES)
    for folder in (inputs, reference):
        (folder / TASK_FILE).write_bytes(config.to_json())


def _stage_programs(base: Path, track: str, kit: str) -> None:
    for folder, module in PROGRAMS.items():
        kind = module
        (base / folder).mkdir()
        launcher = LAUNCHER.format(kind=kind, track=track, module=module, kit=kit)
        (base / folder / f"{module}.py").write_text(launcher, encoding="utf-8")
        metadata = {"command": f"python3 /app/program/{module}.py"}
        (base / folder / "metadata.yaml").write_text(yaml.safe_dump(metadata), encoding="utf-8")


def competition(ctx: pages.Context, start: str) -> dict:
    """``competition.yaml``'s content (Codabench v2)."""
    name = f"LUME unlearning ({ctx.track} track)"
    return {
        "version": 2,
        "title": name,
        "description": f"{ctx.description}: unlearn LUME's forget set, keep the retain set "
        "and general knowledge (SemEval-2025 Task 4's score).",
        "image": "logo.png",
        "docker_image": ctx.docker_image,
        "registration_auto_approve": False,
        "enable_detailed_results": True,
        "make_programs_available": True,
        "make_input_data_available": False,
        "terms": "pages/terms.md",
        "pages": [
            {"title": "Overview", "file": "pages/overview.md"},
            {"title": "Evaluation", "file": "pages/evaluation.md"},
            {"title": "Data", "file": "pages/data.md"},
        ],
        "tasks": [
            {
                "index": 0,
                "name": f"{ctx.track} track",
                "description": f"unlearn() under {ctx.time_limit_seconds:g} s, then scored",
                "ingestion_program": "ingestion_program/",
                "scoring_program": "scoring_program/",
                "input_data": "input_data/",
                "reference_data": "reference_data/",
            }
        ],
        "phases": [
            {
                "index": 0,
                "name": "Unlearning",
                "description": f"The {ctx.fold} fold is unlearned and scored.",
                "start": start,
                "execution_time_limit": ctx.execution_time_limit,
                "max_submissions_per_day": 5,
                "tasks": [0],
            }
        ],
        "leaderboards": [leaderboard(gated=ctx.mmlu_threshold is not None)],
    }


def _zip(base: Path) -> tuple[bytes, int]:
    """The staged tree as zip bytes: sorted entries, fixed times, so same tree, same bytes."""
    buffer = io.BytesIO()
    files = sorted(p for p in base.rglob("*") if p.is_file())
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(path.relative_to(base).as_posix(), date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue(), len(files)


def build_bundle(
    track_name: str,
    root: Path,
    out: Path,
    image: str | None = None,
    start: str | None = None,
    image_root: str = pages.IMAGE_ROOT,
) -> BundleSummary:
    """Write the bundle of ``track_name`` (built or downloaded under ``root``) to ``out``."""
    if out.exists():
        raise LumeError(f"--out {out}: exists (a bundle is never overwritten)")
    if out.suffix != ".zip":
        raise LumeError(f"--out {out}: expected a .zip file name")
    if start is not None:
        try:
            datetime.fromisoformat(start)
        except ValueError:
            raise LumeError(f"--start {start!r}: expected YYYY-MM-DD [HH:MM:SS]") from None
    start = start or datetime.now(timezone.utc).strftime("%Y-%m-%d")
    src = check_sources(track_name, root, image_root)
    kit = kit_version()
    track = src.track
    docker_image = image or (
        f"lume-kit:{kit}" if src.embed_model else f"lume-kit-{track.name.lower()}:{kit}"
    )
    config = TaskConfig(
        kit_version=kit,
        track=track.name,
        fold=track.fold,
        time_limit_seconds=track.time_limit_seconds,
        gpus=track.gpus,
        baseline_preset=track.baseline_preset,
        mmlu_threshold=src.paths.mmlu_threshold,
        model="model" if src.embed_model else src.model_in_image,
    )
    ctx = pages.Context(
        track=track.name,
        description=track.description,
        kit_version=kit,
        docker_image=docker_image,
        time_limit_seconds=track.time_limit_seconds,
        execution_time_limit=execution_time_limit(track.time_limit_seconds),
        gpus=track.gpus,
        fold=track.fold,
        mmlu_threshold=src.paths.mmlu_threshold,
        model_in_image=src.model_in_image,
    )
    spec = competition(ctx, start)
    with tempfile.TemporaryDirectory(prefix="lume-bundle-") as tmp:
        base = Path(tmp)
        (base / "pages").mkdir()
        for name, text in (
            ("overview.md", pages.overview(ctx)),
            ("evaluation.md", pages.evaluation(ctx)),
            ("data.md", pages.data(ctx)),
            ("terms.md", pages.TERMS),
        ):
            (base / "pages" / name).write_text(text, encoding="utf-8")
        (base / "docker").mkdir()
        (base / "docker" / "Dockerfile").write_text(pages.dockerfile(ctx), encoding="utf-8")
        (base / "logo.png").write_bytes(logo_png())
        _stage_programs(base, track.name, kit)
        _stage_data(src, base, config)
        text = yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)
        (base / "competition.yaml").write_text(text, encoding="utf-8")
        files = {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()}
        found = problems(yaml.safe_load(text), files)
        for folder in PROGRAMS:
            found += program_problems(
                folder, yaml.safe_load((base / folder / "metadata.yaml").read_text())
            )
        if found:  # a bug of this module, never the user's input
            raise RuntimeError(f"the bundle would be refused by Codabench: {found}")
        data, count = _zip(base)
    write_bytes_atomic(out, data)
    return BundleSummary(
        out=out,
        track=track.name,
        docker_image=docker_image,
        kit_version=kit,
        files=count,
        bytes=len(data),
        execution_time_limit=ctx.execution_time_limit,
        model="embedded" if src.embed_model else src.model_in_image,
        columns=tuple(c["key"] for c in spec["leaderboards"][0]["columns"]),
    )
