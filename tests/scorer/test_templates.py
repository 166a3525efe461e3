"""The pages' templates: autoescape on, every value through safe_text.html whatever its type,
an unknown name fails, the templates shipped as package data."""

from __future__ import annotations

import fnmatch
import sys

import jinja2
import pytest

from scorer import templates
from scorer.safe_text import html

from paths import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

HOSTILE = "<script>alert(1)</script>\"'&\x1b[2J\u202e\udcff\nline"


def _render(source: str, **context: object) -> str:
    return templates.environment().from_string(source).render(**context)


def test_the_environment_autoescapes():
    assert templates.environment().autoescape is True


@pytest.mark.parametrize("value", [HOSTILE, ["<a>"], {"k": "<b>"}, 3, None, 0.5])
def test_every_printed_value_goes_through_safe_text(value):
    assert _render("{{ v }}", v=value) == html(value)
    assert _render('<p title="{{ v }}">', v=value) == f'<p title="{html(value)}">'


def test_the_block_filter_keeps_line_breaks_only():
    assert _render("{{ v|block }}", v=HOSTILE) == html(HOSTILE, block=True)
    assert "\nline" in _render("{{ v|block }}", v=HOSTILE)
    assert "\\nline" in _render("{{ v }}", v=HOSTILE)


def test_an_unknown_name_fails_instead_of_printing_nothing():
    with pytest.raises(jinja2.UndefinedError):
        _render("{{ missing }}")


def test_the_script_digest_is_the_csp_hash():
    # the example of the CSP specification (w3.org/TR/CSP3, "hash-source")
    assert templates.script_digest("alert('Hello, world.');") == (
        "qznLcsROx4GACP2dm0UCKCzCG+HiZ1guq6ZZDob/Tng="
    )


def test_every_template_is_package_data():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["scorer.templates"]
    files = [p.name for p in (REPO / "scorer" / "templates").iterdir() if p.suffix != ".py"]
    files = [f for f in files if f != "__pycache__"]
    assert files and all(any(fnmatch.fnmatch(f, p) for p in patterns) for f in files)
    for name in files:
        if name.endswith(".html"):
            templates.environment().get_template(name)  # parses
