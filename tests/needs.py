"""Skip or fail, decided in one place: what a test needs (root, bubblewrap, chromium, Ray, the
public data) and lacks skips it on a developer's machine but fails it in CI, where the
machine is set up to have it all and a skip would pose as coverage.

CI is on when the ``CI`` environment variable is set to anything but empty, ``0`` or
``false`` (any case): ``CI=true`` (GitHub, GitLab), ``CI=1``, ``CI=yes`` all count.

Two ways to use it, with the same checks and reasons:

- as a call, in a test or a fixture (what a check finds is returned)::

      needs.root()
      binary = needs.bwrap()
      binary = needs.chromium()
      ray = needs.ray()
      data = needs.public_data(PUBLIC_DIR)
      needs.that(shutil.which("setfacl") is not None, "setfacl is not installed")

- as a mark, checked before the test's fixtures are set up (``tests/conftest.py`` runs
  :func:`check_marks` for every test)::

      @needs.on("root")
      @needs.on("bwrap")
      @needs.on("public_data", PUBLIC_DIR)
      def test_...

``missing(reason)`` is the one place that decides between skip and fail.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

CI_OFF = ("", "0", "false")


def in_ci() -> bool:
    """Whether ``CI`` is set to anything but empty, ``0`` or ``false`` (any case)."""
    return os.environ.get("CI", "").strip().lower() not in CI_OFF


def missing(reason: str) -> NoReturn:
    """The test cannot run here because of ``reason``: fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: this test must run here, not skip)", pytrace=False)
    pytest.skip(reason)


def that(condition: bool, reason: str) -> None:
    """Go on when ``condition`` holds, else :func:`missing` with ``reason``."""
    if not condition:
        missing(reason)


def root() -> None:
    """Running as root (uid 0)."""
    that(os.geteuid() == 0, f"needs root (running as uid {os.geteuid()})")


@functools.lru_cache(maxsize=1)
def _bwrap_complaint() -> tuple[str | None, str | None]:
    from scorer.sandbox.bwrap import find_bwrap, probe

    binary = find_bwrap()
    if binary is None:
        return None, "needs bubblewrap (bwrap is not installed)"
    complaint = probe(binary)
    if complaint is not None:
        return binary, f"needs bubblewrap able to create namespaces here ({complaint})"
    return binary, None


def bwrap() -> str:
    """bubblewrap installed and able to create a run's namespaces here; its path."""
    binary, complaint = _bwrap_complaint()
    if complaint is not None:
        missing(complaint)
    assert binary is not None
    return binary


def chromium() -> str:
    """A chromium executable on the PATH; its path."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        missing("needs chromium (not on the PATH)")
    return binary


def ray():
    """The ``ray`` module (lume-kit[cluster])."""
    try:
        import ray as module
    except ImportError as err:
        missing(f"needs ray, from lume-kit[cluster] ({err})")
    return module


def public_data(path: str | Path) -> Path:
    """The public LUME splits at ``path`` (its ``data/`` directory present); ``path``."""
    path = Path(path)
    that((path / "data").is_dir(), f"needs the public LUME data at {path} (no data/ there)")
    return path


CHECKS = {
    "root": root,
    "bwrap": bwrap,
    "chromium": chromium,
    "ray": ray,
    "public_data": public_data,
}


def on(name: str, *args) -> pytest.MarkDecorator:
    """A mark: the check ``name`` (a key of :data:`CHECKS`) runs with ``args`` before the
    test's fixtures are set up."""
    if name not in CHECKS:
        raise ValueError(f"needs.on({name!r}): expected one of {', '.join(CHECKS)}")
    return pytest.mark.needs(name, *args)


def check_marks(item) -> None:
    """Every ``needs`` mark of a collected test, checked (``pytest_runtest_setup``)."""
    for mark in item.iter_markers("needs"):
        name, *args = mark.args
        CHECKS[name](*args)
