"""The sandbox's one-line errors come from the one module of safe text."""

from __future__ import annotations

from scorer import safe_text
from scorer.sandbox import terminal


def test_the_sandbox_uses_the_one_module_of_safe_text():
    assert terminal.one_line is safe_text.one_line
    assert not hasattr(terminal, "printable") and not hasattr(terminal, "printable_record")
