"""One validation run's shared state: the files found, which may be read, the findings so far."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from scorer.checkpoint.jsonfiles import MAX_JSON_DEPTH, depth, read_json, show, untrusted_hooks
from scorer.checkpoint.limits import Limits
from scorer.checkpoint.reference import Reference
from scorer.checkpoint.report import Violation
from scorer.checkpoint.scan import DEFAULT_SCORING_DTYPES

# ``progress(phase, total)`` returns ``advance(n)``; the CLI passes its progress bars.
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def no_progress(_phase: str, _total: int) -> Callable[[int], None]:
    """A progress factory that shows nothing (the default)."""
    return lambda _n: None


@dataclass
class Inspection:
    """Collects violations and notes while the rules run in order.

    Rules read the checkpoint only through :meth:`readable` files, so a file refused by
    name or over its size limit is never opened by any later rule.
    """

    root: Path
    reference: Reference
    limits: Limits
    progress: ProgressFactory = no_progress
    files: dict[str, int] = field(default_factory=dict)  # regular files: name → size
    unreadable: set[str] = field(default_factory=set)  # over a size limit: never opened
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tensors_checked: int = 0
    bytes_checked: int = 0
    # the dtypes the scorer will load the weights in (torch names); values are checked
    # against the narrowest range of them and of the one config.json asks for
    scoring_dtypes: frozenset[str] = frozenset(DEFAULT_SCORING_DTYPES)
    config: dict | None = None  # config.json once parsed as an object

    def add(self, rule: str, file: str, message: str, tensor: str | None = None) -> None:
        """Record one violation."""
        self.violations.append(Violation(rule, file, message, tensor))

    def readable(self, name: str) -> bool:
        """Whether ``name`` is a regular file of the checkpoint that may be opened."""
        return name in self.files and name not in self.unreadable

    def load_json(self, name: str, rule: str) -> object | None:
        """Parsed JSON of ``name``, or None (a violation of ``rule`` says why, if it exists).

        Every JSON file read goes through here, so each is bounded by its listed size,
        refused past :data:`MAX_JSON_DEPTH` levels and scanned for remote-code hooks.
        """
        if not self.readable(name):
            return None
        try:
            value = read_json(self.root / name, self.files[name])
        except (OSError, ValueError, RecursionError) as err:
            self.add(rule, name, f"{name}: not valid JSON ({' '.join(str(err).split())})")
            return None
        if depth(value) > MAX_JSON_DEPTH:
            self.add(rule, name, f"{name}: nested deeper than {MAX_JSON_DEPTH} levels")
            return None
        for where, hook in untrusted_hooks(value, self.reference.json_files.get(name)):
            self.add(
                "remote-code",
                name,
                f"{name}: {where} = {show(hook)} is a remote-code hook; none is allowed",
            )
        return value
