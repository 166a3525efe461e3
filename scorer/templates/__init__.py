"""HTML pages from Jinja2 templates: one environment, every value escaped, one page shell.

The templates are package data beside this file: ``page.html`` (the shell every page
extends: its Content-Security-Policy, its inline style, nothing loaded from anywhere),
``leaderboard.html``, ``report.html`` with its sections (``report_sections.html``) and its
one script (``report.js``, allowed by the digest :func:`script_digest` computes from it).

Escaping is not opt-in: the environment autoescapes, and every value a template prints
goes through :func:`scorer.safe_text.html` (control characters, bidi overrides, lone
surrogates and line breaks written out, ``& < > " '`` escaped) whatever its type; the
``block`` filter keeps a text's line breaks. Templates hold no
entrant's text of their own, so only what the code passes is printed, always escaped.
Rendering is deterministic: the same context gives the same string.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path

import jinja2
from markupsafe import Markup  # jinja2's own

from scorer import safe_text

HERE = Path(__file__).parent


def block(value: object) -> Markup:
    """The ``block`` filter: text shown as a block (its newlines and tabs kept), escaped."""
    return Markup(safe_text.html(value, block=True))  # noqa: S704


def _finalize(value: object) -> Markup:
    """What every ``{{ ... }}`` prints: a macro's output as it is, anything else escaped by
    :func:`scorer.safe_text.html` (autoescape leaves the result alone: it is Markup)."""
    return value if isinstance(value, Markup) else Markup(safe_text.html(value))  # noqa: S704


@cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment: autoescape on, an unknown name fails (StrictUndefined),
    block tags leave no blank lines; ``{{ text|block }}`` keeps a text's line breaks."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE),
        autoescape=True,
        finalize=_finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["block"] = block
    return env


def render(name: str, **context: object) -> str:
    """Template ``name`` rendered with ``context``."""
    return environment().get_template(name).render(**context)


def script(name: str) -> str:
    """An inline script as the page holds it (the template ``name`` rendered alone)."""
    return render(name)


def script_digest(text: str) -> str:
    """The SHA-256 of an inline script, in base64: a page's policy allows exactly this
    script with ``script-src 'sha256-DIGEST'``."""
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
