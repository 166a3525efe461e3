"""The HTML report of one result: where a method leaks, in one self-contained file.

:func:`build` loads a result directory (and the results it is compared with:
:mod:`.loading`), draws the figures with matplotlib (:mod:`.figures`), and lays out the
sections (:mod:`.sections`) in one page (:mod:`.page`) whose figures are embedded PNGs:
nothing is fetched when it is viewed. :func:`write_report` writes it atomically. Neither
imports torch or transformers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scorer import __version__
from scorer.data.files import write_bytes_atomic
from scorer.report import sections
from scorer.report.loading import Result, load_results
from scorer.report.page import Header, Section, document

__all__ = ["Report", "build", "write_report"]


@dataclass(frozen=True)
class Report:
    """A rendered report: the page, and each section's title and availability."""

    html: str
    sections: tuple[Section, ...]
    results: tuple[Result, ...]


def _header(results: Sequence[Result]) -> Header:
    result, others = results[0], results[1:]
    settings = result.scores.get("settings") or {}
    folds = result.scores.get("folds") or {}
    shown = {
        "scored fold": folds.get("scored", settings.get("fold")),
        "unlearned fold": folds.get("unlearned"),
        "items": result.scores.get("items"),
        "MMLU shots": settings.get("shots"),
        "max new tokens": settings.get("max_new_tokens"),
    }
    warnings = [w for r in results for w in (r.scores.get("warnings") or [])]
    last = result.steps[-1] if result.steps else None
    return Header(
        version=__version__,
        name=result.name,
        others=[r.name for r in others],
        steps=len(result.steps or ()),
        last_step=None if last is None else last.step,
        last_name="" if last is None else last.name,
        facts=[(k, v) for k, v in shown.items() if v is not None],
        warnings=list(dict.fromkeys(warnings)),
    )


def build(result_dir: str | Path, compare: Sequence[str | Path] = ()) -> Report:
    """Load ``result_dir`` (and every ``compare`` directory) and render the report."""
    results = load_results(Path(result_dir), [Path(c) for c in compare])
    parts = (
        sections.summary(results),
        sections.tasks(results),
        sections.mia(results),
        sections.mmlu(results),
        sections.steps(results[0]),
        sections.budget(results),
        sections.items(results),
    )
    page = document(f"LUME report: {results[0].name}", _header(results), parts)
    return Report(page, parts, tuple(results))


def write_report(result_dir: Path, out: Path, compare: Sequence[Path] = ()) -> Path:
    """Write the report of ``result_dir`` (compared with ``compare``) to ``out``, atomically;
    return ``out``. Bad input raises a :class:`scorer.errors.LumeError` and writes nothing."""
    report = build(result_dir, compare)
    write_bytes_atomic(out, report.html.encode("utf-8"))
    return Path(out)
