"""What the bundle's programs are told, and where Codabench puts things: ``lume-task.json``, /app.

The bundle writes one ``lume-task.json`` into its input data (read by the ingestion
program) and its reference data (read by the scoring program): the track, its fold, time
limit, GPUs, MMLU threshold and where the model and the scoring data lie. A relative path
is inside the data folder itself; an absolute one is inside the docker image (the 1B and
7B targets, baked into the image, are GBs). The compute worker mounts every folder under
``/app`` (``compute_worker/compute_worker.py`` of codalab/codabench); ``LUME_CODABENCH_APP``
(or ``--app-root``) moves that root, so tests can map it to a temporary directory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass
from pathlib import Path

from scorer.contract import FOLDS
from scorer.errors import LumeError

TASK_FILE = "lume-task.json"
APP_ROOT_VARIABLE = "LUME_CODABENCH_APP"
RUN_DIR = "run"  # the runner's --out inside the ingestion's /app/output


@dataclass(frozen=True)
class TaskConfig:
    kit_version: str
    track: str
    fold: str
    time_limit_seconds: float
    gpus: int
    baseline_preset: str
    mmlu_threshold: float | None
    model: str  # relative: in input_data; absolute: in the docker image
    data: str = "data"  # relative to reference_data
    mia: str = "mia_data"
    mmlu: str = "mmlu"

    def to_json(self) -> bytes:
        return (json.dumps(asdict(self), indent=2, sort_keys=True) + "\n").encode()


def read_task(path: Path) -> TaskConfig:
    """``lume-task.json``, checked; a missing or broken file is a one-line ``LumeError``."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LumeError(f"{path}: not found (is this folder a LUME bundle's data?)") from None
    except (OSError, ValueError) as err:
        raise LumeError(f"{path}: cannot read JSON ({err})") from None
    if not isinstance(raw, Mapping):
        raise LumeError(f"{path}: not a JSON object")
    fields = TaskConfig.__dataclass_fields__
    unknown = set(raw) - set(fields)
    missing = {n for n, f in fields.items() if f.default is MISSING} - set(raw)
    if unknown or missing:
        raise LumeError(f"{path}: unknown {sorted(unknown)} / missing {sorted(missing)} fields")
    config = TaskConfig(**raw)
    for name in ("kit_version", "track", "baseline_preset", "model", "data", "mia", "mmlu"):
        if not isinstance(getattr(config, name), str) or not getattr(config, name):
            raise LumeError(f"{path}: {name} must be a non-empty string")
    threshold = config.mmlu_threshold
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float)
    ):
        raise LumeError(f"{path}: mmlu_threshold must be a number or null")
    if config.fold not in FOLDS:
        raise LumeError(f"{path}: fold {config.fold!r} is not one of {', '.join(FOLDS)}")
    limit = config.time_limit_seconds
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
        raise LumeError(f"{path}: time_limit_seconds must be a positive number")
    if isinstance(config.gpus, bool) or not isinstance(config.gpus, int) or config.gpus < 0:
        raise LumeError(f"{path}: gpus must be a whole number >= 0")
    return config


def located(folder: Path, path: str) -> Path:
    """A path of ``lume-task.json``: relative ones inside ``folder``, absolute as they are."""
    return Path(path) if os.path.isabs(path) else folder / path


@dataclass(frozen=True)
class AppDirs:
    """The folders the compute worker mounts, under one root (``/app`` on the platform)."""

    root: Path

    @property
    def program(self) -> Path:
        return self.root / "program"

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def input_data(self) -> Path:
        return self.root / "input_data"

    @property
    def ingested_program(self) -> Path:
        return self.root / "ingested_program"

    @property
    def res(self) -> Path:
        return self.root / "input" / "res"

    @property
    def ref(self) -> Path:
        return self.root / "input" / "ref"


def app_dirs(root: str | None = None, environ: Mapping[str, str] = os.environ) -> AppDirs:
    """``root``, else ``$LUME_CODABENCH_APP``, else ``/app`` (the platform's)."""
    return AppDirs(Path(root or environ.get(APP_ROOT_VARIABLE) or "/app"))
