"""Shared pytest fixtures: the public data, built tracks, and runs of submissions.

``run`` runs ``tests/submissions/<name>.py`` through ``run_submission`` on the tiny track
and then checks that no process of the run is left alive, that its cgroups and work
directory are gone, and that run.json is what it returned; ``sets`` lays out the tiny
track's train fold in the submission layout.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import needs
import pytest

from baselines.presets import FIELD_ENV_PREFIX, PRESET_ENV, TrainConfig
from scorer.contract import DEADLINE_VARIABLE
from scorer.data.files import write_items_jsonl, write_items_parquet
from scorer.data.lume import load_lume
from scorer.sandbox.options import RunOptions
from scorer.sandbox.runner import run_submission

from paths import SUBMISSIONS
from runs import kill_marked, marked_processes

PUBLIC_DIR = Path(__file__).resolve().parents[2] / "shared" / "lume-public"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "needs(name, *args): what the test needs, see tests/needs.py (skip or fail)"
    )


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@needs.on(...)`` marks, checked before the test's fixtures: skip, or fail in CI."""
    needs.check_marks(item)


@pytest.fixture(scope="session")
def public_dir() -> Path:
    """The real public LUME splits (outside the repository).

    Absent data skips the test on a developer's machine but fails it in CI, where
    ``../shared`` is always present: a skip there would pose as coverage (``needs``).
    """
    return needs.public_data(PUBLIC_DIR)


@pytest.fixture(scope="session")
def mini_track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default mini track (seed 0), built once per test session (a few CPU minutes)."""
    from starter_kit.mini.build import build_mini_track

    out = tmp_path_factory.mktemp("mini") / "track"
    build_mini_track(out)
    return out


@pytest.fixture(scope="session")
def tiny_track(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small mini track with a tiny, barely trained target (seconds to build)."""
    from starter_kit.mini.build import BuildOptions, build_mini_track

    from tiny import TINY_TARGET, TINY_VOCAB, TINY_WORLD

    out = tmp_path_factory.mktemp("tiny") / "track"
    build_mini_track(out, BuildOptions(vocab_size=TINY_VOCAB, target=TINY_TARGET, sizes=TINY_WORLD))
    return out


@pytest.fixture(scope="session", name="sets")
def sets_fixture(tiny_track: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """forget/ and retain/ in the submission layout (parquet + jsonl), train fold."""
    root = tmp_path_factory.mktemp("sets")
    lume = load_lume(tiny_track / "dataset", "train")
    for split in ("forget", "retain"):
        write_items_parquet(root / split / f"{split}.parquet", lume[split])
        write_items_jsonl(root / split / f"{split}.jsonl", lume[split])
    return root / "forget", root / "retain"


@pytest.fixture(name="run")
def run_fixture(tiny_track: Path, sets: tuple[Path, Path], tmp_path: Path) -> Callable[..., dict]:
    """Run a submission by name; assert nothing of it survives; return run.json."""

    def go(name: str, source: Path | None = None, **options) -> dict:
        options.setdefault("time_limit", 30)
        options.setdefault("grace", 1.0)
        record = run_submission(
            RunOptions(
                submission=source or SUBMISSIONS / f"{name}.py",
                model=tiny_track / "model",
                out=tmp_path / "out",
                forget=sets[0],
                retain=sets[1],
                **options,
            )
        )
        assert json.loads((tmp_path / "out" / "run.json").read_text()) == record
        left = marked_processes(record["run_id"])
        kill_marked(record["run_id"])  # never leave a stray process on the machine
        assert left == []
        assert record["survivors"] == {"first": [], "more": 0}
        cgroups = record["isolation"]["cgroups"]
        assert cgroups["left_behind"] == []
        for directory in [cgroups["v2"], *cgroups["v1"].values()]:
            assert directory is None or not Path(directory).exists()
        assert not list((tmp_path / "out").glob(".lume-work-*"))  # work dir removed
        return record

    return go


@pytest.fixture()
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No preset, field override or deadline from the caller's environment; all restored."""
    names = [PRESET_ENV, DEADLINE_VARIABLE]
    names += [FIELD_ENV_PREFIX + name.upper() for name in TrainConfig.__dataclass_fields__]
    for name in names:
        monkeypatch.setenv(name, "")  # recorded, so whatever a test sets is undone
        monkeypatch.delenv(name)
    return monkeypatch
