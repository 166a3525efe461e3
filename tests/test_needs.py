"""``needs``: what a test lacks skips it off CI and fails it in CI, whatever CI's spelling."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import needs
import pytest

FAILED = pytest.fail.Exception
SKIPPED = pytest.skip.Exception


@pytest.mark.parametrize("value", ["1", "true", "True", "TRUE", "yes", "on", " 1 "])
def test_a_missing_need_fails_when_ci_is_set(monkeypatch, value: str):
    monkeypatch.setenv("CI", value)
    assert needs.in_ci()
    with pytest.raises(FAILED, match="the thing is absent .*CI is set"):
        needs.that(False, "the thing is absent")


@pytest.mark.parametrize("value", [None, "", "0", "false", "False", "FALSE", " false "])
def test_a_missing_need_skips_off_ci(monkeypatch, value: str | None):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert not needs.in_ci()
    with pytest.raises(SKIPPED, match="^the thing is absent$"):
        needs.that(False, "the thing is absent")


@pytest.mark.parametrize("value", [None, "1"])
def test_a_need_that_holds_neither_skips_nor_fails(monkeypatch, value: str | None, tmp_path):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    needs.that(True, "never said")
    (tmp_path / "data").mkdir()
    assert needs.public_data(tmp_path) == tmp_path


def test_each_check_names_what_is_missing(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(FAILED, match=f"needs the public LUME data at {tmp_path}"):
        needs.public_data(tmp_path)
    monkeypatch.setattr(needs.os, "geteuid", lambda: 1000)
    with pytest.raises(FAILED, match="needs root .*uid 1000"):
        needs.root()
    monkeypatch.setattr(needs.shutil, "which", lambda _name: None)
    with pytest.raises(FAILED, match="needs chromium"):
        needs.chromium()
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import ray raises
    with pytest.raises(FAILED, match=r"needs ray, from lume-kit\[cluster\]"):
        needs.ray()
    monkeypatch.setattr(needs, "_bwrap_complaint", lambda: (None, "needs bubblewrap (x)"))
    with pytest.raises(FAILED, match=r"needs bubblewrap \(x\)"):
        needs.bwrap()


def test_a_mark_runs_its_check_with_its_arguments(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("CI", "0")
    mark = needs.on("public_data", tmp_path).mark
    item = SimpleNamespace(iter_markers=lambda name: [mark] if name == "needs" else [])
    with pytest.raises(SKIPPED, match="needs the public LUME data"):
        needs.check_marks(item)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(FAILED, match="needs the public LUME data"):
        needs.check_marks(item)
    (tmp_path / "data").mkdir()
    needs.check_marks(item)  # present: nothing raised
    with pytest.raises(ValueError, match="expected one of root, bwrap"):
        needs.on("gpu")
