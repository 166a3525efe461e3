"""Codabench's compute worker, played locally: unpack a bundle, lay out ``/app`` as the worker
does for each step, and run a program folder's ``metadata.yaml`` command.

As ``compute_worker/compute_worker.py`` (codalab/codabench) does: the prediction step mounts
the ingestion program at ``/app/program`` (the working directory), the task's input data at
``/app/input_data``, the submission at ``/app/ingested_program`` and an empty
``/app/output``; the scoring step mounts the scoring program at ``/app/program``, the
reference data at ``/app/input/ref``, the prediction step's output at ``/app/input/res``
and an empty ``/app/output``. Here ``/app`` is a temporary directory: the command's
``/app`` paths are mapped to it, ``LUME_CODABENCH_APP`` tells the programs, and
``python3`` is this interpreter (the image's Python, with the kit installed).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from scorer.bundle.task import APP_ROOT_VARIABLE


def unpack(bundle: Path, into: Path) -> Path:
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(into)
    return into


def platform_argv(command: str, app: Path) -> list[str]:
    """The metadata command's argv with ``/app`` mapped to ``app``."""
    argv = []
    for word in shlex.split(command):
        if word == "python3":
            word = sys.executable
        elif word == "/app" or word.startswith("/app/"):
            word = str(app) + word[len("/app") :]
        argv.append(word)
    return argv


def run_program(
    program: Path, app: Path, timeout: float = 900, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Copy ``program`` to ``app/program`` and run its metadata command there."""
    shutil.copytree(program, app / "program")
    command = yaml.safe_load((app / "program" / "metadata.yaml").read_text())["command"]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LUME_")}
    environ |= {APP_ROOT_VARIABLE: str(app), "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run(
        platform_argv(command, app),
        cwd=app / "program",
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def prediction_app(bundle_dir: Path, submission: Path, app: Path) -> Path:
    """``/app`` of the prediction step: input data, the submission (its folder), output."""
    shutil.copytree(bundle_dir / "input_data", app / "input_data")
    shutil.copytree(submission, app / "ingested_program")
    (app / "output").mkdir()
    return app


def scoring_app(bundle_dir: Path, prediction_output: Path, app: Path) -> Path:
    """``/app`` of the scoring step: reference data, the prediction's output, output."""
    shutil.copytree(bundle_dir / "reference_data", app / "input" / "ref")
    shutil.copytree(prediction_output, app / "input" / "res")
    (app / "output").mkdir()
    (app / "shared").mkdir()
    return app


@pytest.fixture(scope="session")
def tiny_bundle(tiny_track: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny track's bundle, unpacked (built once per session)."""
    from scorer.bundle.build import build_bundle

    base = tmp_path_factory.mktemp("tiny-bundle")
    build_bundle("mini", tiny_track, base / "bundle.zip", start="2026-01-01")
    return unpack(base / "bundle.zip", base / "unpacked")


@pytest.fixture(scope="session")
def codabench() -> SimpleNamespace:
    """The helpers above, for the tests of this folder (a conftest is not importable by name)."""
    return SimpleNamespace(
        unpack=unpack,
        run_program=run_program,
        prediction_app=prediction_app,
        scoring_app=scoring_app,
        platform_argv=platform_argv,
    )
